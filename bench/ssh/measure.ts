// What bench/ssh measures through either peer, always with the host's OpenSSH client (`ssh`, and
// `scp`, which in OpenSSH 9 speaks sftp): an scp transfer, the echo round trip of a persistent
// session running `cat`, the connection set-up, and the negotiated kex and cipher.

import { type ChildProcess, spawn } from "node:child_process";
import { createHash, randomFillSync } from "node:crypto";
import { closeSync, createReadStream, openSync, writeSync } from "node:fs";
import { sshClientOptions } from "@warren/testing/ssh-login";

export interface Peer {
  name: string;
  user: string;
  host: string;
  port: number;
  key: string;
  knownHosts: string;
}

/** Every child still running, so an interrupted run can end them (they are ours, by handle). */
export const children = new Set<ChildProcess>();

const common = (p: Peer) => sshClientOptions({ knownHosts: p.knownHosts, key: p.key });

function run(cmd: string, args: string[]): Promise<{ status: number | null; stderr: string }> {
  const child = spawn(cmd, args, { stdio: ["ignore", "ignore", "pipe"] });
  children.add(child);
  let stderr = "";
  child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
  return new Promise((resolve) =>
    child.once("close", (status) => {
      children.delete(child);
      resolve({ status, stderr });
    }),
  );
}

/** Writes `bytes` random bytes to `file`; returns their sha256. */
export function makeRandomFile(file: string, bytes: number): string {
  const hash = createHash("sha256");
  const chunk = Buffer.alloc(16 * 1024 * 1024);
  const fd = openSync(file, "w", 0o600);
  try {
    for (let left = bytes; left > 0; ) {
      const n = Math.min(left, chunk.length);
      randomFillSync(chunk, 0, n);
      writeSync(fd, chunk, 0, n);
      hash.update(chunk.subarray(0, n));
      left -= n;
    }
  } finally {
    closeSync(fd);
  }
  return hash.digest("hex");
}

export async function sha256File(file: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const c of createReadStream(file, { highWaterMark: 1 << 20 })) hash.update(c as Buffer);
  return hash.digest("hex");
}

/** One `scp` (from and to are local paths or `:REMOTE` for the peer); returns milliseconds. */
export async function scpMs(p: Peer, from: string, to: string): Promise<number> {
  const remote = (s: string) => (s.startsWith(":") ? `${p.user}@${p.host}${s}` : s);
  const t0 = performance.now();
  const r = await run("scp", [
    ...common(p),
    "-o",
    "LogLevel=ERROR",
    "-P",
    String(p.port),
    remote(from),
    remote(to),
  ]);
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`scp ${from} ${to} via ${p.name} exited ${r.status}: ${r.stderr}`);
  return ms;
}

/** Wall time of `ssh PEER true`: handshake, auth, session and exit. */
export async function connectMs(p: Peer): Promise<number> {
  const t0 = performance.now();
  const r = await run("ssh", [...common(p), "-p", String(p.port), `${p.user}@${p.host}`, "true"]);
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`ssh ${p.name} true exited ${r.status}: ${r.stderr}`);
  return ms;
}

/** The key exchange and server->client cipher the client negotiated with the peer. */
export async function negotiated(p: Peer): Promise<{ kex: string; cipher: string }> {
  const r = await run("ssh", [...common(p), "-v", "-p", String(p.port), `${p.user}@${p.host}`, "true"]);
  return {
    kex: /kex: algorithm: (\S+)/.exec(r.stderr)?.[1] ?? "?",
    cipher: /kex: server->client cipher: (\S+)/.exec(r.stderr)?.[1] ?? "?",
  };
}

/**
 * Opens one session running `cat` (with a pty in raw mode when `pty`, else plain pipes), sends one
 * byte and waits for its echo, `n` times after `warmup` unrecorded ones; returns each round trip
 * in microseconds, as seen by the process driving the local `ssh`.
 */
export async function echoRoundTrips(p: Peer, n: number, pty: boolean, warmup = 50): Promise<number[]> {
  const remote = pty ? "stty raw -echo; echo READY; exec cat" : "echo READY; exec cat";
  const child = spawn(
    "ssh",
    [
      ...common(p),
      "-o",
      "LogLevel=ERROR",
      ...(pty ? ["-tt"] : ["-T"]),
      "-p",
      String(p.port),
      `${p.user}@${p.host}`,
      remote,
    ],
    { stdio: ["pipe", "pipe", "pipe"] },
  );
  children.add(child);
  let stderr = "";
  child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
  const exited = new Promise<void>((resolve) => child.once("close", () => resolve()));
  let ready = false;
  let banner = "";
  let received = 0;
  let wake: (() => void) | null = null;
  child.stdout.on("data", (b: Buffer) => {
    if (!ready) {
      banner += b.toString("latin1");
      const at = banner.indexOf("READY\n");
      if (at < 0) return;
      ready = true;
      received += banner.length - (at + 6);
    } else received += b.length;
    wake?.();
  });
  const until = (ok: () => boolean, what: string) =>
    new Promise<void>((resolve, reject) => {
      if (ok()) return resolve();
      const timer = setTimeout(
        () => reject(new Error(`${p.name}: timed out waiting for ${what}; ssh said: ${stderr}`)),
        30_000,
      );
      void exited.then(() => reject(new Error(`${p.name}: ssh exited while waiting for ${what}: ${stderr}`)));
      wake = () => {
        if (!ok()) return;
        wake = null;
        clearTimeout(timer);
        resolve();
      };
    });
  const byte = Buffer.from("x");
  const samples: number[] = [];
  try {
    await until(() => ready, "the session");
    for (let i = 0; i < warmup + n; i++) {
      const want = received + 1;
      const t0 = process.hrtime.bigint();
      child.stdin.write(byte);
      await until(() => received >= want, "an echo");
      if (i >= warmup) samples.push(Number(process.hrtime.bigint() - t0) / 1000);
    }
  } finally {
    child.kill("SIGTERM");
    await exited;
    children.delete(child);
  }
  return samples;
}
