// warren shell NAME: an interactive login shell in the workspace, bash if the image has it.
import type { ApiClient, ExecRequest } from "@warren/protocol";
import { attach } from "../attach.ts";
import { connect } from "../connect.ts";
import type { RunContext } from "../run.ts";

export function shellRequest(name: string): ExecRequest {
  return {
    // One round trip instead of probing for bash first.
    cmd: ["/bin/sh", "-c", "command -v bash >/dev/null && exec bash -l || exec sh -l"],
    tty: true,
    cwd: `/workspaces/${name}`,
    env: { TERM: process.env["TERM"] ?? "xterm-256color" },
  };
}

export function openShell(client: ApiClient, name: string): Promise<number> {
  return attach(client, name, shellRequest(name));
}

export async function shellCommand(name: string, ctx: RunContext) {
  const client = await connect();
  ctx.mode = "exec";
  return openShell(client, name);
}
