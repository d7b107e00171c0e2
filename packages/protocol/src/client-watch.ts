// The client side of GET /api/v1/environments?watch=1: a minimal Server-Sent Events reader.
// Only what the server sends is parsed (event, id, data, comments); see watch.ts for the protocol.
import type { IncomingMessage } from "node:http";
import { type ErrorBody, WarrenError } from "./errors.ts";
import type { WatchEvent } from "./watch.ts";

export interface WatchOptions {
  /** Resume after this version; without it the stream starts with the current list (ADDED...BOOKMARK). */
  resourceVersion?: number;
  signal?: AbortSignal;
}

export function watchPath(o: WatchOptions): string {
  const q = new URLSearchParams({ watch: "1" });
  if (o.resourceVersion !== undefined) q.set("resourceVersion", String(o.resourceVersion));
  return `/environments?${q}`;
}

/** Reads events until the stream ends (resolves) or carries an ERROR event (rejects). */
export function readWatchStream(
  res: IncomingMessage,
  onEvent: (e: WatchEvent) => void,
  signal?: AbortSignal,
): Promise<void> {
  res.setEncoding("utf8");
  return new Promise((resolve, reject) => {
    let buf = "";
    let event = "";
    let data = "";
    let done = false;
    const finish = (err?: Error) => {
      if (done) return;
      done = true;
      signal?.removeEventListener("abort", onAbort);
      res.destroy();
      if (err) reject(err);
      else resolve();
    };
    const onAbort = () => finish();
    signal?.addEventListener("abort", onAbort, { once: true });
    if (signal?.aborted) return finish();
    const dispatch = () => {
      const type = event;
      const text = data;
      event = "";
      data = "";
      if (text === "") return;
      if (type === "ERROR") return finish(WarrenError.fromBody(JSON.parse(text) as ErrorBody));
      try {
        onEvent(JSON.parse(text) as WatchEvent);
      } catch (err) {
        finish(err as Error);
      }
    };
    const line = (l: string) => {
      if (l === "") return dispatch();
      if (l.startsWith(":")) return;
      const i = l.indexOf(":");
      const field = i < 0 ? l : l.slice(0, i);
      const value = i < 0 ? "" : l.slice(i + 1).replace(/^ /, "");
      if (field === "event") event = value;
      else if (field === "data") data = data === "" ? value : `${data}\n${value}`;
    };
    res.on("data", (chunk: string) => {
      buf += chunk;
      for (let i = buf.indexOf("\n"); i >= 0 && !done; i = buf.indexOf("\n")) {
        line(buf.slice(0, i).replace(/\r$/, ""));
        buf = buf.slice(i + 1);
      }
    });
    res.on("end", () => finish());
    res.on("error", (err) => finish(signal?.aborted ? undefined : err));
  });
}
