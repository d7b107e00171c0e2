// A runner dialling out to a control plane: TLS with the server's certificate pinned (client-tls.ts),
// a runner token and its protocol version, then HTTP/2 streams on the WebSocket (streams/runner-link.ts).
// One connection; `warren runner` reconnects with backoff around it (runner-reconnect.ts), tests and
// bench/api connect a fake runner with it.
import type { IncomingMessage } from "node:http";
import { tlsTransport } from "./client-tls.ts";
import { WarrenError } from "./errors.ts";
import type { RunnerApi } from "./runner.ts";
import {
  MAX_WIRE_FRAME,
  RUNNER_CONNECT_PATH,
  RUNNER_PROTOCOL_HEADER,
  RUNNER_WIRE_VERSION,
} from "./runner-wire.ts";
import { SESSION_CLOSE } from "./session-close.ts";
import { keepAlive } from "./ws-heartbeat.ts";

export interface RunnerConnectOptions {
  /** https://HOST:PORT of the control plane's TLS listener. */
  url: string;
  /** SHA-256 fingerprint of its certificate (printed by the server at start). */
  fingerprint: string;
  /** A runner token, wrn_r_... */
  token: string;
  /** Only tests set this, to play a runner of another version. */
  protocolVersion?: number;
}

export interface RunnerConnection {
  /** The runner id the control plane assigned; rejects if the connection fails before that. */
  ready: Promise<string>;
  /** Resolves with the close reason when the connection ends. */
  closed: Promise<string>;
  /** The same end, with what a caller needs to decide how to retry. */
  ended: Promise<RunnerLinkEnd>;
  close(): void;
}

export interface RunnerLinkEnd {
  reason: string;
  /** The WebSocket close code, when the link was open. */
  closeCode?: number;
  /** The HTTP status, when the control plane refused the upgrade. */
  status?: number;
}

/**
 * The control plane no longer accepts this runner's token: refused at connect (401), or the live
 * link was ended because the token was revoked or expired (4401). Retrying with the same token
 * cannot succeed; a new one must replace it.
 */
export function tokenRejected(end: RunnerLinkEnd): boolean {
  return end.status === 401 || end.closeCode === SESSION_CLOSE.unauthenticated;
}

export async function connectRunner(opts: RunnerConnectOptions, api: RunnerApi): Promise<RunnerConnection> {
  if (!opts.token.startsWith("wrn_r_")) {
    throw new WarrenError(
      "UNAUTHENTICATED",
      "a runner connects with a runner token (wrn_r_...), not a user token",
    );
  }
  const { WebSocket } = await import("ws");
  const { serveRunnerLink } = await import("./streams/runner-link.ts");
  const version = opts.protocolVersion ?? RUNNER_WIRE_VERSION;
  const { url, options } = tlsTransport(opts).webSocket(RUNNER_CONNECT_PATH);
  const ws = new WebSocket(url, {
    ...options,
    headers: { ...options.headers, [RUNNER_PROTOCOL_HEADER]: String(version) },
    perMessageDeflate: false,
    maxPayload: MAX_WIRE_FRAME,
  });
  let welcome!: (id: string) => void;
  let refuse!: (e: Error) => void;
  const ready = new Promise<string>((res, rej) => {
    welcome = res;
    refuse = rej;
  });
  ready.catch(() => {}); // callers that only await `closed` must not see an unhandled rejection
  let endResolve!: (e: RunnerLinkEnd) => void;
  const ended = new Promise<RunnerLinkEnd>((r) => {
    endResolve = r;
  });
  const closed = ended.then((e) => e.reason);
  let closeCode: number | undefined;
  // Registered before serveRunner's own listener, so the code is known when it resolves.
  ws.once("close", (code: number) => {
    closeCode = code;
  });
  ws.on("unexpected-response", (_req, res: IncomingMessage) => {
    const chunks: Buffer[] = [];
    res.on("data", (c: Buffer) => chunks.push(c));
    res.on("end", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      let msg = text;
      try {
        msg = (JSON.parse(text) as { message?: string }).message ?? text;
      } catch {}
      const err = new WarrenError(
        res.statusCode === 426 ? "VERSION_MISMATCH" : "UNAUTHENTICATED",
        `the control plane refused the runner (${res.statusCode}): ${msg}`,
      );
      refuse(err);
      endResolve({ reason: err.message, ...(res.statusCode ? { status: res.statusCode } : {}) });
      ws.terminate();
    });
  });
  ws.on("error", (err) => {
    refuse(err);
    endResolve({ reason: err.message });
  });
  // A control plane of another version (one from before versions were announced says nothing):
  // refused here, naming both, before a byte of HTTP/2 is sent.
  let theirs: string | undefined;
  ws.once("upgrade", (res: IncomingMessage) => {
    const h = res.headers[RUNNER_PROTOCOL_HEADER];
    theirs = typeof h === "string" ? h : undefined;
  });
  ws.on("open", () => {
    if (theirs !== String(version)) {
      const err = new WarrenError(
        "VERSION_MISMATCH",
        `runner protocol version mismatch: this runner speaks v${version}, the control plane ` +
          `${theirs === undefined ? "announces no version (v1, older than versions on the upgrade)" : `speaks v${theirs}`}; ` +
          `upgrade the ${theirs === undefined || Number(theirs) < version ? "control plane" : "runner"} so both run the same Warren version`,
      );
      refuse(err);
      endResolve({ reason: err.message, status: 426 });
      ws.close(1002, "runner protocol version mismatch");
      return;
    }
    keepAlive(ws);
    void serveRunnerLink(ws, api, { onWelcome: (id) => welcome(id) }).then((reason) => {
      refuse(new WarrenError("RUNNER_UNAVAILABLE", `the control plane closed the connection: ${reason}`));
      endResolve({ reason, ...(closeCode !== undefined ? { closeCode } : {}) });
    });
  });
  return { ready, closed, ended, close: () => ws.close(1000, "runner stopping") };
}
