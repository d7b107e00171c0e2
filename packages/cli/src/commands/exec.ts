// warren exec NAME [-i] [-t] [-u USER] [-w DIR] [-e NAME=VALUE]... -- CMD [ARGS...]: the command's
// status and output pass through. Any failure of Warren's own exits 125 (run.ts), as Docker's.
import { checkExecCwd, type ExecRequest, parseExecEnv, parseExecUser, WarrenError } from "@warren/protocol";
import { attach } from "../attach.ts";
import { connect } from "../connect.ts";
import type { RunContext } from "../run.ts";

export interface ExecOptions {
  tty?: boolean;
  /** Accepted for docker/kubectl habits: stdin always passes through. */
  interactive?: boolean;
  user?: string;
  workdir?: string;
  env?: string[];
}

/** The request for these options; a bad one is refused before anything is sent. */
export function execRequest(_name: string, cmd: string[], opts: ExecOptions): ExecRequest {
  if (cmd.length === 0)
    throw new WarrenError("INVALID_ARGUMENT", "no command given: warren exec NAME -- CMD [ARGS...]");
  const tty = opts.tty === true;
  const env: Record<string, string> = {};
  if (tty) env["TERM"] = process.env["TERM"] ?? "xterm-256color";
  for (const pair of opts.env ?? []) {
    const [k, v] = parseExecEnv(pair);
    env[k] = v;
  }
  // Start where `warren shell` does: without -w the control plane picks the workspace
  // (/workspaces/NAME, or devcontainer.json's workspaceFolder).
  const req: ExecRequest = {
    cmd,
    tty,
    env,
    ...(opts.workdir !== undefined ? { cwd: checkExecCwd(opts.workdir) } : {}),
  };
  if (opts.user !== undefined) {
    parseExecUser(opts.user);
    req.user = opts.user;
  }
  return req;
}

export async function execCommand(name: string, cmd: string[], opts: ExecOptions, ctx: RunContext) {
  // Every way exec fails on Warren's side exits 125, bad options included.
  ctx.mode = "exec";
  const req = execRequest(name, cmd, opts);
  const client = await connect();
  return attach(client, name, req);
}
