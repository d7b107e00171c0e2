// The peer for bench/proxy: Debian's nginx on the host as a reverse proxy to the backend in the
// environment, one worker pinned to CPU 1, upstream keep-alive, on a private loopback port with a
// private config, pid file and temp paths in the run's directory (the system's nginx, if any, is
// untouched). Headers set as Warren's proxy sets them (X-Forwarded-For, -Proto, -Host).
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";

export interface HostNginx {
  port: number;
  /** The master's pid; its one worker is the process that does the proxying. */
  pid: number;
  /** Master and worker pids. */
  pids(): number[];
  stop(): Promise<void>;
}

function conf(dir: string, port: number, upstream: string): string {
  return `worker_processes 1;
worker_cpu_affinity 10;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  keepalive_requests 100000000;
  keepalive_timeout 300s;
  upstream backend {
    server ${upstream};
    keepalive 64;
    keepalive_requests 100000000;
  }
  server {
    listen 127.0.0.1:${port} backlog=4096;
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $remote_addr;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Forwarded-Host $host;
    }
  }
}
`;
}

export async function startHostNginx(dir: string, port: number, upstream: string): Promise<HostNginx> {
  mkdirSync(dir, { recursive: true });
  const file = `${dir}/nginx.conf`;
  writeFileSync(file, conf(dir, port, upstream));
  const child: ChildProcess = spawn("taskset", ["-c", "1", "nginx", "-p", dir, "-c", file], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  const pidOf = () => child.pid!;
  const children = () => {
    const f = `/proc/${pidOf()}/task/${pidOf()}/children`;
    return existsSync(f) ? readFileSync(f, "utf8").trim().split(/\s+/).filter(Boolean).map(Number) : [];
  };
  const until = Date.now() + 5_000;
  while (children().length === 0) {
    if (child.exitCode !== null || Date.now() > until)
      throw new Error(`host nginx did not start (exit ${child.exitCode}): ${stderr}`);
    await sleep(50);
  }
  return {
    port,
    pid: pidOf(),
    pids: () => [pidOf(), ...children()],
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGQUIT"); // the master, by pid; it takes its worker with it
      await Promise.race([exited, sleep(5_000)]);
      if (child.exitCode === null && child.signalCode === null) {
        for (const p of children()) process.kill(p, "SIGKILL");
        child.kill("SIGKILL");
      }
    },
  };
}
