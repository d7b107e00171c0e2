// The exec WebSocket's framing (protocol exec-stream.ts), for the browser: each binary frame is
// one channel byte (0 stdin, 1 stdout, 2 stderr, 3 control JSON) and then the data.
export const Channel = { stdin: 0, stdout: 1, stderr: 2, control: 3 } as const;

export type ControlMessage =
  | { type: "resize"; cols: number; rows: number }
  | { type: "exit"; code: number }
  | { type: "error"; code: string; message: string }
  | { type: "notice"; message: string };

const encoder = new TextEncoder();

export function frame(channel: number, data: Uint8Array | string): Uint8Array {
  const body = typeof data === "string" ? encoder.encode(data) : data;
  const out = new Uint8Array(body.length + 1);
  out[0] = channel;
  out.set(body, 1);
  return out;
}

export function controlFrame(msg: ControlMessage): Uint8Array {
  return frame(Channel.control, JSON.stringify(msg));
}

export type Incoming =
  | { kind: "output"; data: Uint8Array }
  | { kind: "control"; msg: ControlMessage }
  | { kind: "ignored" };

export function parseIncoming(buf: ArrayBuffer): Incoming {
  const bytes = new Uint8Array(buf);
  if (bytes.length < 1) return { kind: "ignored" };
  const data = bytes.subarray(1);
  if (bytes[0] === Channel.stdout || bytes[0] === Channel.stderr) return { kind: "output", data };
  if (bytes[0] !== Channel.control) return { kind: "ignored" };
  try {
    return { kind: "control", msg: JSON.parse(new TextDecoder().decode(data)) as ControlMessage };
  } catch {
    return { kind: "ignored" };
  }
}

/** The login shell `warren shell` opens: bash when the image has it. */
export const SHELL_CMD = ["/bin/sh", "-c", "command -v bash >/dev/null && exec bash -l || exec sh -l"];

/** ws(s)://this-host/api/v1/environments/NAME/exec?… for a terminal of cols × rows. */
export function execUrl(
  loc: { protocol: string; host: string },
  name: string,
  cols: number,
  rows: number,
): string {
  const q = new URLSearchParams({
    cmd: JSON.stringify(SHELL_CMD),
    tty: "1",
    cols: String(cols),
    rows: String(rows),
  });
  const scheme = loc.protocol === "https:" ? "wss" : "ws";
  return `${scheme}://${loc.host}/api/v1/environments/${encodeURIComponent(name)}/exec?${q}`;
}
