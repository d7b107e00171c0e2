// The runner's side of a runner link once the WebSocket is open: it serves HTTP/2 streams on it
// (the control stream with the RunnerApi calls, exec and dial streams), as serveStreams does for
// any kind. Returns when the link closes, with the close reason.
import type { WebSocket } from "ws";
import type { RunnerApi } from "../runner.ts";
import { type ServeRunnerHooks, serveRunner } from "../runner-serve.ts";
import { WIRE_CLOSE } from "../runner-wire.ts";
import { controlConn } from "./control-conn.ts";
import { dialOpener } from "./dial-stream.ts";
import { serveExecStream } from "./exec-server.ts";
import { type ServeStreamsOptions, serveStreams } from "./stream-server.ts";

export function serveRunnerLink(
  ws: WebSocket,
  api: RunnerApi,
  hooks: ServeRunnerHooks & { onProblem?: (message: string) => void } = {},
  opts: ServeStreamsOptions = {},
): Promise<string> {
  const problem = hooks.onProblem ?? (() => {});
  let controlled = false;
  return new Promise<string>((resolve) => {
    let resolved = false;
    ws.once("close", (code: number, reason: Buffer) => {
      // Before any control stream: no serveRunner to report the close.
      if (!controlled && !resolved) {
        resolved = true;
        resolve(`${code}${reason.length ? ` ${reason.toString()}` : ""}`);
      }
    });
    serveStreams(
      ws,
      {
        control: (_meta, stream) => {
          if (controlled) {
            problem("a second control stream");
            stream.destroy();
            return;
          }
          controlled = true;
          void serveRunner(controlConn(stream, ws), api, hooks).then((reason) => {
            if (!resolved) {
              resolved = true;
              resolve(reason);
            }
          });
        },
        exec: (_meta, stream) => serveExecStream(api, stream, problem),
        dial: dialOpener(api),
      },
      { ...opts, onProblem: problem },
    );
    // A peer that sends text frames is not speaking HTTP/2.
    ws.on("message", (_data: unknown, isBinary: boolean) => {
      if (!isBinary)
        ws.close(WIRE_CLOSE.unsupported, "bad frame: the runner link carries binary HTTP/2 only");
    });
  });
}
