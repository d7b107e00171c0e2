// The backend for bench/proxy: Debian's nginx installed and started INSIDE the environment (in its
// sandbox, like every image binary), one worker pinned to CPU 0, answering every request with a
// fixed 3-byte body after reading (discarding) the request body, on keep-alive connections that
// never hit a request cap. All three paths (Warren's proxy, direct, host nginx) reach this same
// process, so its cost is identical for each and the differences are the proxies'.
//
// Host -> environment traffic is dropped by Warren's firewall by design; like bench/ssh, the bench
// opens one narrow pinhole in its OWN run's nft table (new connections from the host to IP:PORT,
// established replies from that port), deleted at teardown with the table.
import type { Harness } from "@warren/testing/e2e-harness";
import { envIp, execIn, openPinhole } from "../lib/env-pinhole.ts";

const COMMENT = "warren-bench-proxy";

export interface Backend {
  ip: string;
  port: number;
  /** Removes the firewall pinhole (nginx dies with the environment). */
  close(): void;
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
  const ip = envIp(h, env);
  const close = openPinhole(h, ip, port, COMMENT);
  return { ip, port, close };
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
