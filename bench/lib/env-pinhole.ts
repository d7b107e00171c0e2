// What the benches that reach a server INSIDE an environment from the host share (bench/ssh,
// bench/proxy): running a script in the environment, its IP, and a firewall pinhole.
//
// Warren's firewall drops all host <-> environment traffic by design (its input and output
// chains end in `iifgroup/oifgroup G drop`). A bench opens one narrow pinhole in its OWN run's
// table (a private prefix that teardown deletes): new connections from the host to IP:PORT and
// the established replies from that port, tagged with a comment so they can be removed.
import { spawnSync } from "node:child_process";
import { ifGroupFor } from "@warren/runner";
import type { Harness } from "@warren/testing/e2e-harness";

/** Runs `script` with sh inside `env` (through `warren exec`), throwing with its output on failure. */
export function execIn(h: Harness, env: string, script: string, what: string, input?: string): string {
  const r = h.cli(["exec", env, "--", "sh", "-c", script], input === undefined ? {} : { input });
  if (r.status !== 0) {
    throw new Error(
      `${what} inside ${env} failed (exit ${r.status}):\n${(r.stderr + r.stdout).slice(-2000)}`,
    );
  }
  return r.stdout;
}

/** The environment's address, as `warren inspect` shows it. */
export function envIp(h: Harness, env: string): string {
  const info = JSON.parse(h.cli(["inspect", env, "--json"]).stdout) as { observed?: { ip?: string } };
  const ip = info.observed?.ip;
  if (!ip) throw new Error(`warren inspect ${env} shows no IP address`);
  return ip;
}

function nft(args: string[]): void {
  const r = spawnSync("nft", args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`nft ${args.join(" ")}: ${r.stderr}`);
}

/** Deletes every rule tagged `comment` from the run's input and output chains. */
function removePinhole(table: string, comment: string): void {
  for (const chain of ["input", "output"]) {
    const r = spawnSync("nft", ["-a", "list", "chain", "inet", table, chain], { encoding: "utf8" });
    if (r.status !== 0) continue; // the table is already gone
    for (const line of r.stdout.split("\n")) {
      const m = line.includes(`"${comment}"`) ? /# handle (\d+)/.exec(line) : null;
      if (m) spawnSync("nft", ["delete", "rule", "inet", table, chain, "handle", m[1]!]);
    }
  }
}

/** Lets the host reach IP:PORT inside the run's environments; returns what removes it again. */
export function openPinhole(h: Harness, ip: string, port: number, comment: string): () => void {
  const group = String(ifGroupFor(h.prefix));
  const table = h.prefix;
  const tag = ["comment", `"${comment}"`];
  const close = () => removePinhole(table, comment);
  try {
    nft(
      ["insert", "rule", "inet", table, "output", "oifgroup", group, "ip", "daddr", ip].concat([
        "tcp",
        "dport",
        String(port),
        "accept",
        ...tag,
      ]),
    );
    nft(
      ["insert", "rule", "inet", table, "input", "iifgroup", group, "ip", "saddr", ip].concat([
        "tcp",
        "sport",
        String(port),
        "ct",
        "state",
        "established",
        "accept",
        ...tag,
      ]),
    );
  } catch (err) {
    close();
    throw err;
  }
  return close;
}
