// wrk (Debian's) driving keep-alive HTTP/1.1 POSTs with a 1 KiB body, pinned to CPU 0. A Lua
// script sets the body and prints wrk's own summary and latency percentiles as one JSON line, so
// nothing is parsed out of wrk's human-readable output.
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";

export const BODY_BYTES = 1024;

const SCRIPT = `wrk.method = "POST"
wrk.body = string.rep("x", ${BODY_BYTES})
wrk.headers["Content-Type"] = "application/octet-stream"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"durationUs":%d,"bytes":%d,"connectErrors":%d,"readErrors":%d,"writeErrors":%d,"non2xx":%d,"timeouts":%d,"p50Us":%d,"p90Us":%d,"p99Us":%d,"meanUs":%.1f,"maxUs":%d}\\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean, latency.max))
end
`;

export interface WrkResult {
  requests: number;
  durationUs: number;
  bytes: number;
  connectErrors: number;
  readErrors: number;
  writeErrors: number;
  non2xx: number;
  timeouts: number;
  p50Us: number;
  p90Us: number;
  p99Us: number;
  meanUs: number;
  maxUs: number;
}

export function writeScript(dir: string): string {
  const file = `${dir}/post-1k.lua`;
  writeFileSync(file, SCRIPT);
  return file;
}

export const running = new Set<ReturnType<typeof spawn>>();

/** One wrk run; fails on any error or non-2xx answer, since those would flatter the figures. */
export function wrk(o: {
  script: string;
  url: string;
  host?: string;
  connections: number;
  seconds: number;
}): Promise<WrkResult> {
  const args = [
    "-c",
    "0",
    "wrk",
    "-t1",
    `-c${o.connections}`,
    `-d${o.seconds}s`,
    "--latency",
    "-s",
    o.script,
  ];
  if (o.host) args.push("-H", `Host: ${o.host}`);
  args.push(o.url);
  return new Promise((resolve, reject) => {
    const child = spawn("taskset", args, { stdio: ["ignore", "pipe", "pipe"] });
    running.add(child);
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      out += d.toString();
    });
    child.on("error", reject);
    child.on("close", (code) => {
      running.delete(child);
      const line = out.split("\n").find((l) => l.startsWith("WRKJSON "));
      if (code !== 0 || !line) return reject(new Error(`wrk ${o.url} exited ${code}:\n${out}`));
      const r = JSON.parse(line.slice("WRKJSON ".length)) as WrkResult;
      const bad = r.connectErrors + r.readErrors + r.writeErrors + r.non2xx + r.timeouts;
      if (bad > 0) return reject(new Error(`wrk ${o.url}: ${bad} errors or non-2xx answers:\n${out}`));
      resolve(r);
    });
  });
}
