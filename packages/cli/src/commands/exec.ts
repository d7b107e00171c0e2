// warren exec NAME [-t] -- CMD [ARGS...]: the command's status and output pass through.
import { WarrenError } from "@warren/protocol";
import { attach } from "../attach.ts";
import { connect } from "../connect.ts";
import type { RunContext } from "../run.ts";

export async function execCommand(name: string, cmd: string[], opts: { tty?: boolean }, ctx: RunContext) {
  if (cmd.length === 0)
    throw new WarrenError("INVALID_ARGUMENT", "no command given: warren exec NAME -- CMD [ARGS...]");
  const client = await connect();
  ctx.mode = "exec";
  const tty = opts.tty === true;
  const env: Record<string, string> = {};
  if (tty) env["TERM"] = process.env["TERM"] ?? "xterm-256color";
  // Start where `warren shell` does, in the environment's workspace.
  return attach(client, name, { cmd, tty, env, cwd: `/workspaces/${name}` });
}
