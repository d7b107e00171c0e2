// Client side of port-forward: one WebSocket per forwarded TCP connection (framing and byte
// pumping in port-forward-stream.ts). `ws` is imported lazily, as for exec.
import type { IncomingMessage } from "node:http";
import type { WebSocket } from "ws";
import { connectionError, errorFromResponse, type Transport } from "./client-transport.ts";
import { API_PREFIX } from "./paths.ts";

/** The API path of a forward to `port` on `host` (default 127.0.0.1) inside environment `name`. */
export function portForwardPath(name: string, port: number, host?: string): string {
  const q = new URLSearchParams({ port: String(port) });
  if (host !== undefined) q.set("host", host);
  return `${API_PREFIX}/environments/${encodeURIComponent(name)}/port-forward?${q}`;
}

/**
 * Resolves with the open WebSocket once the daemon dialled the port (it may first start a stopped
 * environment); rejects with the daemon's WarrenError (ENV_NOT_FOUND, DIAL_FAILED, TIMEOUT...) or
 * a connection error.
 */
export async function openPortForward(
  transport: Transport,
  name: string,
  port: number,
  host?: string,
): Promise<WebSocket> {
  const { WebSocket } = await import("ws");
  const path = portForwardPath(name, port, host);
  const { url, options } = transport.webSocket(path);
  const ws = new WebSocket(url, { ...options, perMessageDeflate: false });
  return new Promise<WebSocket>((resolve, reject) => {
    ws.on("unexpected-response", (_req, res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        reject(
          errorFromResponse(
            "port-forward",
            path,
            res.statusCode ?? 0,
            Buffer.concat(chunks).toString("utf8"),
          ),
        );
        ws.terminate();
      });
    });
    const onError = (err: Error) => reject(connectionError(err, transport));
    ws.on("error", onError);
    // The listener stays: a later error rejects nothing, and the bridge adds its own.
    ws.once("open", () => resolve(ws));
  });
}
