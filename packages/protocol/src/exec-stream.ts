// Framing for exec/shell over a WebSocket, reused for remote use later. Like Kubernetes'
// channel.k8s.io: each binary frame starts with one channel byte.
export const Channel = { stdin: 0, stdout: 1, stderr: 2, control: 3 } as const;
export type ChannelId = (typeof Channel)[keyof typeof Channel];

export type ControlMessage =
  | { type: "resize"; cols: number; rows: number }
  | { type: "eof" }
  | { type: "signal"; signal: string }
  | { type: "exit"; code: number }
  | { type: "error"; code: string; message: string }
  /** Server to client, before the command starts: what it is waiting for (a stopped environment starting). */
  | { type: "notice"; message: string };

/** Optional exec handlers of the API client beyond the runner's ExecHandlers. */
export interface ExecNotices {
  /** A control {type:"notice"}: a human-readable line about the wait, for stderr. */
  notice?(message: string): void;
}

export function frame(channel: ChannelId, data: Uint8Array | string): Buffer {
  const body = typeof data === "string" ? Buffer.from(data) : data;
  const out = Buffer.allocUnsafe(body.length + 1);
  out[0] = channel;
  out.set(body, 1);
  return out;
}

export function controlFrame(msg: ControlMessage): Buffer {
  return frame(Channel.control, JSON.stringify(msg));
}

export function parseFrame(buf: Buffer): { channel: number; data: Buffer } {
  if (buf.length < 1) throw new Error("empty exec frame");
  return { channel: buf[0]!, data: buf.subarray(1) };
}

/** Query string for GET /api/v1/environments/:name/exec (upgraded to a WebSocket). */
export interface ExecQuery {
  cmd: string; // JSON array
  tty?: "1" | "0";
  cols?: string;
  rows?: string;
  env?: string; // JSON object of extra environment variables (ExecRequest.env)
  cwd?: string;
  user?: string; // "uid[:gid]"
}
