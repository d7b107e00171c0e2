// A control plane and a runner joined by a real `ws` WebSocket on loopback, with the stream
// transport on top: the runner dials out (WebSocket client) and serves streams (HTTP/2 server),
// as in production. Shared by the stream transport's tests and bench/transport.
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import {
  createStreamClient,
  type ServeStreamsOptions,
  type StreamClient,
  type StreamClientOptions,
  type StreamHandler,
  type StreamServer,
  serveStreams,
} from "@warren/protocol/streams";
import { WebSocket, WebSocketServer } from "ws";

export interface Loopback {
  client: StreamClient;
  server: StreamServer;
  controlPlaneWs: WebSocket;
  runnerWs: WebSocket;
  close(): Promise<void>;
}

export async function startLoopback(
  handlers: Record<string, StreamHandler>,
  opts: { client?: StreamClientOptions; server?: ServeStreamsOptions } = {},
): Promise<Loopback> {
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0 });
  await once(wss, "listening");
  const { port } = wss.address() as AddressInfo;
  const accepted = once(wss, "connection") as Promise<[WebSocket]>;
  const runnerWs = new WebSocket(`ws://127.0.0.1:${port}/api/runner/v1/connect`);
  await once(runnerWs, "open");
  const [controlPlaneWs] = await accepted;
  const server = serveStreams(runnerWs, handlers, opts.server);
  const client = createStreamClient(controlPlaneWs, opts.client);
  return {
    client,
    server,
    controlPlaneWs,
    runnerWs,
    async close() {
      client.session.destroy();
      server.session.destroy();
      controlPlaneWs.terminate();
      runnerWs.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
