// Logging in to Warren's SSH gateway with the real OpenSSH client, as the gateway's tests and
// bench/ssh do: the client options that pin the gateway's host key and use only the given key,
// and (for a daemon started by the e2e harness) the gateway's port, its pinned host key and a
// freshly registered key.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import http from "node:http";
import type { Harness } from "./e2e-harness.ts";

/** `ssh`/`scp`/`sftp` options: no user config, the host key pinned, this key only, no prompts. */
export function sshClientOptions(o: { knownHosts: string; key: string; logLevel?: string }): string[] {
  return [
    "-F",
    "/dev/null",
    "-o",
    "StrictHostKeyChecking=yes",
    "-o",
    `UserKnownHostsFile=${o.knownHosts}`,
    "-o",
    "IdentitiesOnly=yes",
    "-o",
    "BatchMode=yes",
    "-o",
    `LogLevel=${o.logLevel ?? "ERROR"}`,
    "-i",
    o.key,
  ];
}

export interface GatewayLogin {
  port: number;
  key: string;
  knownHosts: string;
}

/**
 * Reads the gateway's address from GET /api/v1/ssh/gateway, pins its host key in
 * ROOT/known_hosts, makes an ed25519 key and registers it with `warren ssh-key add`.
 */
export async function loginToGateway(h: Harness): Promise<GatewayLogin> {
  const gw = await new Promise<{ listening: boolean; port: number; hostKey: string }>((resolve, reject) => {
    http
      .get({ socketPath: h.socket, path: "/api/v1/ssh/gateway" }, (res) => {
        let body = "";
        res.on("data", (d: Buffer) => (body += d.toString()));
        res.on("end", () => resolve(JSON.parse(body)));
      })
      .on("error", reject);
  });
  assert.equal(gw.listening, true, "the harness starts the gateway with WARREN_SSH_LISTEN=127.0.0.1:0");
  const knownHosts = `${h.root}/known_hosts`;
  writeFileSync(knownHosts, `[127.0.0.1]:${gw.port} ${gw.hostKey}\n`);
  const key = `${h.root}/id_ed25519`;
  assert.equal(spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", key]).status, 0);
  const add = h.cli(["ssh-key", "add", `${key}.pub`]);
  assert.equal(add.status, 0, add.stderr);
  return { port: gw.port, key, knownHosts };
}
