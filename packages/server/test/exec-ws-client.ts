// A minimal exec client over the daemon's unix socket (protocol exec-stream.ts framing), for tests.
import { Channel, type ControlMessage, parseFrame } from "@warren/protocol";
import WebSocket from "ws";

export interface ExecResult {
  stdout: string;
  stderr: string;
  control: ControlMessage[];
}

export function execWs(
  sock: string,
  name: string,
  cmd: string[],
  opts: { tty?: boolean; send?: Buffer[] } = {},
) {
  const qs = new URLSearchParams({
    cmd: JSON.stringify(cmd),
    ...(opts.tty ? { tty: "1", cols: "80", rows: "24" } : {}),
  });
  const ws = new WebSocket(`ws+unix://${sock}:/api/v1/environments/${name}/exec?${qs}`);
  const out: ExecResult = { stdout: "", stderr: "", control: [] };
  const done = new Promise<ExecResult>((resolve, reject) => {
    ws.on("open", () => {
      for (const b of opts.send ?? []) ws.send(b);
    });
    ws.on("message", (data: Buffer) => {
      const { channel, data: body } = parseFrame(data);
      if (channel === Channel.stdout) out.stdout += body.toString();
      else if (channel === Channel.stderr) out.stderr += body.toString();
      else if (channel === Channel.control) out.control.push(JSON.parse(body.toString()));
    });
    ws.on("close", () => resolve(out));
    ws.on("error", reject);
  });
  return { ws, done };
}
