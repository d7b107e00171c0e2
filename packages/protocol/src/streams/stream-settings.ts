// HTTP/2 SETTINGS both ends of the stream transport advertise.
import type { Settings } from "node:http2";
import { MAX_HEADER_LIST_SIZE } from "./stream-headers.ts";

/**
 * Each stream's receive window. It bounds how much one paused reader holds buffered, and it
 * must be large enough for one stream to fill a fast link: 1 MiB per round trip.
 */
export const STREAM_WINDOW = 1024 * 1024;
/**
 * The connection-level receive window (HTTP/2's default is 64 KiB), large so the sum of many
 * streams' windows is never what limits throughput: each stream's own window is all a paused
 * reader can hold up.
 */
export const CONNECTION_WINDOW = 64 * 1024 * 1024;
/** Streams one peer may have open at once; past it a new stream is refused, not queued forever. */
export const MAX_CONCURRENT_STREAMS = 1000;

export function sessionSettings(): Settings {
  return {
    initialWindowSize: STREAM_WINDOW,
    maxConcurrentStreams: MAX_CONCURRENT_STREAMS,
    maxHeaderListSize: MAX_HEADER_LIST_SIZE,
    maxFrameSize: 64 * 1024,
    enablePush: false,
  };
}
