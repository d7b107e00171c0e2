// warren shell NAME [-u USER] [-w DIR]: an interactive login shell in the workspace, bash if the
// image has it.
import { type ApiClient, checkExecCwd, type ExecRequest, parseExecUser } from "@warren/protocol";
import { attach } from "../attach.ts";
import { connect } from "../connect.ts";
import type { RunContext } from "../run.ts";

export interface ShellOptions {
  user?: string;
  workdir?: string;
}

export function shellRequest(_name: string, opts: ShellOptions = {}): ExecRequest {
  const req: ExecRequest = {
    // One round trip instead of probing for bash first.
    cmd: ["/bin/sh", "-c", "command -v bash >/dev/null && exec bash -l || exec sh -l"],
    tty: true,
    // Without -w the control plane picks: /workspaces/NAME, or devcontainer.json's workspaceFolder.
    ...(opts.workdir !== undefined ? { cwd: checkExecCwd(opts.workdir) } : {}),
    env: { TERM: process.env["TERM"] ?? "xterm-256color" },
  };
  if (opts.user !== undefined) {
    parseExecUser(opts.user);
    req.user = opts.user;
  }
  return req;
}

export function openShell(client: ApiClient, name: string, opts: ShellOptions = {}): Promise<number> {
  return attach(client, name, shellRequest(name, opts));
}

export async function shellCommand(name: string, opts: ShellOptions, ctx: RunContext) {
  ctx.mode = "exec";
  const req = shellRequest(name, opts);
  const client = await connect();
  return attach(client, name, req);
}
