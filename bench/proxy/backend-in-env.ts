// The backend for bench/proxy: Debian's nginx installed and started INSIDE the environment (in its
// sandbox, like every image binary), one worker pinned to CPU 0, answering every request with a
// fixed 3-byte body after reading (discarding) the request body, on keep-alive connections that
// never hit a request cap. All three paths (Warren's proxy, direct, host nginx) reach this same
// process, so its cost is identical for each and the differences are the proxies'.
//
// Host -> environment traffic is dropped by Warren's firewall by design; like bench/ssh, the bench
// opens one narrow pinhole in its OWN run's nft table (new connections from the host to IP:PORT,
// established replies from that port), deleted at teardown with the table.
import { spawnSync } from "node:child_process";
import { ifGroupFor } from "@warren/runner";
import type { Harness } from "@warren/testing/e2e-harness";

const COMMENT = "warren-bench-proxy";

export interface Backend {
  ip: string;
  port: number;
  /** Removes the firewall pinhole (nginx dies with the environment). */
  close(): void;
}

function execIn(h: Harness, env: string, script: string, what: string): string {
  const r = h.cli(["exec", env, "--", "sh", "-c", script]);
  if (r.status !== 0) {
    throw new Error(
      `${what} inside ${env} failed (exit ${r.status}):\n${(r.stderr + r.stdout).slice(-2000)}`,
    );
  }
  return r.stdout;
}

function nft(args: string[]): void {
  const r = spawnSync("nft", args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`nft ${args.join(" ")}: ${r.stderr}`);
}

function removePinhole(table: string): void {
  for (const chain of ["input", "output"]) {
    const r = spawnSync("nft", ["-a", "list", "chain", "inet", table, chain], { encoding: "utf8" });
    if (r.status !== 0) continue; // the table is already gone
    for (const line of r.stdout.split("\n")) {
      const m = line.includes(`"${COMMENT}"`) ? /# handle (\d+)/.exec(line) : null;
      if (m) spawnSync("nft", ["delete", "rule", "inet", table, chain, "handle", m[1]!]);
    }
  }
}

function backendConf(port: number): string {
  return `worker_processes 1;
worker_cpu_affinity 01;
pid /run/bench-nginx.pid;
error_log /var/log/bench-nginx.err warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 100000000;
  keepalive_timeout 300s;
  client_body_buffer_size 16k;
  server {
    listen 0.0.0.0:${port} backlog=4096;
    location / { return 200 "ok\\n"; }
  }
}
`;
}

export function startBackendInEnv(h: Harness, env: string, port: number): Backend {
  // The base image has no nginx: install it from the image's own apt sources through the
  // environment's egress. policy-rc.d keeps the package from starting its own nginx on :80.
  execIn(
    h,
    env,
    [
      "test -x /usr/sbin/nginx || {",
      "  printf '#!/bin/sh\\nexit 101\\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d &&",
      "  { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends nginx-light; } >/tmp/apt-bench.log 2>&1 ||",
      "  { tail -20 /tmp/apt-bench.log; exit 1; }",
      "}",
    ].join("\n"),
    "installing nginx-light (the environment's egress must reach the Debian mirror in its /etc/apt/sources.list)",
  );
  // `taskset -c 0` pins the master and so the worker it forks; worker_cpu_affinity says the same.
  // nginx daemonises and outlives this exec, inside the environment's cgroup.
  execIn(
    h,
    env,
    `cat > /etc/bench-nginx.conf <<'EOF'\n${backendConf(port)}EOF\ntaskset -c 0 /usr/sbin/nginx -c /etc/bench-nginx.conf`,
    "starting nginx",
  );
  const info = JSON.parse(h.cli(["inspect", env, "--json"]).stdout) as { observed?: { ip?: string } };
  const ip = info.observed?.ip;
  if (!ip) throw new Error(`warren inspect ${env} shows no IP address`);
  const group = String(ifGroupFor(h.prefix));
  const table = h.prefix;
  const tag = ["comment", `"${COMMENT}"`];
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
    removePinhole(table);
    throw err;
  }
  return { ip, port, close: () => removePinhole(table) };
}

/** Host pids of the backend's nginx processes (to check their CPU affinity). */
export function backendPids(h: Harness, env: string): string {
  return execIn(
    h,
    env,
    "for p in $(pgrep -f bench-nginx.conf; pgrep -P $(cat /run/bench-nginx.pid)); do taskset -p $p; done",
    "reading nginx affinity",
  );
}
