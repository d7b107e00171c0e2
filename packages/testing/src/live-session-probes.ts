// Clients for each kind of live session, as a revoked user would hold them: they record every frame
// with the time it arrived and resolve `ended` with how the stream ended. Shared by the revocation
// tests (unit and pg) and bench/revocation.
import type { IncomingMessage } from "node:http";
import { Channel, type ControlMessage, parseFrame, type Transport } from "@warren/protocol";
import WebSocket from "ws";

export interface Frame {
  at: number;
  /** "data" carries what the session is for; "end" is the reason it ended; "meta" is neither. */
  kind: "data" | "end" | "meta";
  text: string;
}

export interface Probe {
  frames: Frame[];
  /** Resolves once the server has ended the stream: when and how. */
  ended: Promise<{ at: number; closeCode?: number; reason: string }>;
  /** Resolves once the stream is open and flowing. */
  open: Promise<void>;
  close(): void;
}

function refused(what: string, res: IncomingMessage, reject: (e: Error) => void): void {
  const chunks: Buffer[] = [];
  res.on("data", (c: Buffer) => chunks.push(c));
  res.on("end", () =>
    reject(new Error(`${what} answered ${res.statusCode}: ${Buffer.concat(chunks).toString()}`)),
  );
}

/** GET /api/v1/environments?watch=1 as Server-Sent Events. */
export function watchProbe(t: Transport): Probe {
  const frames: Frame[] = [];
  let close = () => {};
  let opened!: () => void;
  const open = new Promise<void>((r) => {
    opened = r;
  });
  const ended = new Promise<{ at: number; reason: string }>((resolve, reject) => {
    const req = t.request(
      { method: "GET", path: "/api/v1/environments?watch=1", headers: { accept: "text/event-stream" } },
      (res) => {
        if (res.statusCode !== 200) return refused("watch", res, reject);
        res.setEncoding("utf8");
        let buf = "";
        let reason = "";
        res.on("data", (chunk: string) => {
          buf += chunk;
          for (let i = buf.indexOf("\n\n"); i >= 0; i = buf.indexOf("\n\n")) {
            const block = buf.slice(0, i);
            buf = buf.slice(i + 2);
            const type = /^event: (.*)$/m.exec(block)?.[1];
            const kind = type === "ERROR" ? "end" : type && type !== "BOOKMARK" ? "data" : "meta";
            if (kind === "end") reason = /^data: (.*)$/m.exec(block)?.[1] ?? "";
            frames.push({ at: performance.now(), kind, text: block });
            if (type === "BOOKMARK") opened();
          }
        });
        res.on("end", () => resolve({ at: performance.now(), reason }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end();
    close = () => req.destroy();
  });
  ended.catch(() => {});
  return { frames, ended, open, close: () => close() };
}

/** GET .../logs?follow=1: plain text; the server's last line says why it ended. */
export function logsProbe(t: Transport, env: string): Probe {
  const frames: Frame[] = [];
  let close = () => {};
  let opened!: () => void;
  const open = new Promise<void>((r) => {
    opened = r;
  });
  const ended = new Promise<{ at: number; reason: string }>((resolve, reject) => {
    const req = t.request({ method: "GET", path: `/api/v1/environments/${env}/logs?follow=1` }, (res) => {
      if (res.statusCode !== 200) return refused("logs", res, reject);
      res.setEncoding("utf8");
      let buf = "";
      res.on("data", (chunk: string) => {
        buf += chunk;
        for (let i = buf.indexOf("\n"); i >= 0; i = buf.indexOf("\n")) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + 1);
          const kind = line.startsWith("[warren] log stream closed:") ? "end" : "data";
          frames.push({ at: performance.now(), kind, text: line });
          if (kind === "data") opened();
        }
      });
      res.on("end", () => resolve({ at: performance.now(), reason: frames.at(-1)?.text ?? "" }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end();
    close = () => req.destroy();
  });
  ended.catch(() => {});
  return { frames, ended, open, close: () => close() };
}

/** An exec of `cat` fed a line every few ms, so output keeps flowing until the session ends. */
export function execProbe(t: Transport, env: string): Probe & { control: ControlMessage[] } {
  const frames: Frame[] = [];
  const control: ControlMessage[] = [];
  const qs = new URLSearchParams({ cmd: JSON.stringify(["cat"]) });
  const { url, options } = t.webSocket(`/api/v1/environments/${env}/exec?${qs}`);
  const ws = new WebSocket(url, options);
  let feeder: NodeJS.Timeout | undefined;
  let opened!: () => void;
  const open = new Promise<void>((r) => {
    opened = r;
  });
  const ended = new Promise<{ at: number; closeCode: number; reason: string }>((resolve, reject) => {
    ws.on("open", () => {
      let n = 0;
      feeder = setInterval(() => {
        if (ws.readyState === ws.OPEN)
          ws.send(Buffer.concat([Buffer.from([Channel.stdin]), Buffer.from(`line ${n++}\n`)]));
      }, 5);
    });
    ws.on("message", (data: Buffer) => {
      const { channel, data: body } = parseFrame(data);
      if (channel === Channel.control) {
        const msg = JSON.parse(body.toString()) as ControlMessage;
        control.push(msg);
        frames.push({
          at: performance.now(),
          kind: msg.type === "error" ? "end" : "meta",
          text: body.toString(),
        });
      } else {
        frames.push({ at: performance.now(), kind: "data", text: body.toString() });
        opened();
      }
    });
    ws.on("close", (code, reason) => {
      clearInterval(feeder);
      resolve({ at: performance.now(), closeCode: code, reason: reason.toString() });
    });
    ws.on("error", (err) => {
      clearInterval(feeder);
      reject(err);
    });
  });
  ended.catch(() => {});
  return { frames, control, ended, open, close: () => ws.terminate() };
}

/** Frames that carried data after the stream's end reason (there must be none). */
export function dataAfterEnd(p: Probe): Frame[] {
  const i = p.frames.findIndex((f) => f.kind === "end");
  return i < 0 ? [] : p.frames.slice(i + 1).filter((f) => f.kind === "data");
}

/** `t` with a bearer token on every request and WebSocket (a token on the local socket is honoured too). */
export function withBearer(t: Transport, token: string): Transport {
  const authorization = `Bearer ${token}`;
  return {
    label: t.label,
    request: (req, onResponse) =>
      t.request({ ...req, headers: { ...req.headers, authorization } }, onResponse),
    webSocket(path) {
      const { url, options } = t.webSocket(path);
      return { url, options: { ...options, headers: { ...(options.headers ?? {}), authorization } } };
    },
  };
}
