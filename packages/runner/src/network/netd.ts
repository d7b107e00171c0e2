// Runs warren-net and `nft -f -` through long-lived warren-netd processes (native/warren-netd.c)
// instead of spawning each from the runner. A spawn from a large Node process costs several
// milliseconds; a fork+exec from the tiny helper costs a fraction of one. Each command still runs
// as a fresh process with the same arguments and input, so behaviour and error messages are the
// same as with run(). Idle helpers hold no reference on the event loop, and exit when the runner
// does (EOF on their stdin, and a parent-death signal).
import { type ChildProcessByStdio, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import type { Readable, Writable } from "node:stream";
import { type RunResult, run } from "../host/run.ts";

/** At most this many helpers run side by side; more requests wait for a free one. */
const MAX_HELPERS = 4;

type Proc = ChildProcessByStdio<Writable, Readable, null>;

interface Pending {
  resolve: (r: RunResult) => void;
  reject: (e: Error) => void;
}

class Helper {
  readonly #proc: Proc;
  #buf: Buffer = Buffer.alloc(0);
  #pending: Pending | null = null;
  dead = false;

  constructor(binary: string, onExit: (h: Helper) => void) {
    this.#proc = spawn(binary, [], { stdio: ["pipe", "pipe", "inherit"] });
    this.#proc.stdin.on("error", () => {});
    this.#proc.stdout.on("data", (d: Buffer) => this.#onData(d));
    const gone = (why: string) => {
      if (this.dead) return;
      this.dead = true;
      onExit(this);
      this.#pending?.reject(new Error(`warren-netd: ${why}`));
      this.#pending = null;
    };
    this.#proc.on("error", (e) => gone(e.message));
    this.#proc.on("exit", (code, sig) => gone(`exited (${sig ?? code}) before answering`));
    this.#idle();
  }

  request(args: string[], input: Buffer): Promise<RunResult> {
    const argBuf = Buffer.from(`${args.join("\0")}\0`);
    const hdr = Buffer.alloc(8);
    hdr.writeUInt32LE(argBuf.length, 0);
    hdr.writeUInt32LE(input.length, 4);
    return new Promise<RunResult>((resolve, reject) => {
      this.#pending = { resolve, reject };
      this.#busy();
      this.#proc.stdin.write(Buffer.concat([hdr, argBuf, input]));
    });
  }

  close(): void {
    this.#proc.stdin.end();
  }

  #onData(d: Buffer): void {
    this.#buf = this.#buf.length ? Buffer.concat([this.#buf, d]) : d;
    if (this.#buf.length < 12) return;
    const code = this.#buf.readInt32LE(0);
    const outLen = this.#buf.readUInt32LE(4);
    const errLen = this.#buf.readUInt32LE(8);
    if (this.#buf.length < 12 + outLen + errLen) return;
    const stdout = this.#buf.subarray(12, 12 + outLen).toString();
    const stderr = this.#buf.subarray(12 + outLen, 12 + outLen + errLen).toString();
    this.#buf = this.#buf.subarray(12 + outLen + errLen);
    const p = this.#pending;
    this.#pending = null;
    this.#idle();
    p?.resolve({ code, stdout, stderr });
  }

  // An idle helper must not keep the runner (or a test, or a bench) alive.
  #idle(): void {
    this.#proc.unref();
    (this.#proc.stdout as Readable & { unref?: () => void }).unref?.();
    (this.#proc.stdin as Writable & { unref?: () => void }).unref?.();
  }
  #busy(): void {
    this.#proc.ref();
    (this.#proc.stdout as Readable & { ref?: () => void }).ref?.();
    (this.#proc.stdin as Writable & { ref?: () => void }).ref?.();
  }
}

const built = new Map<string, boolean>();
const idle = new Map<string, Helper[]>();
const live = new Map<string, Set<Helper>>();
const waiting = new Map<string, (() => void)[]>();

async function acquire(binary: string): Promise<Helper> {
  for (;;) {
    const free = idle.get(binary)?.pop();
    if (free && !free.dead) return free;
    const all = live.get(binary) ?? new Set<Helper>();
    live.set(binary, all);
    if (all.size < MAX_HELPERS) {
      const h = new Helper(binary, (gone) => {
        all.delete(gone);
        idle.set(
          binary,
          (idle.get(binary) ?? []).filter((x) => x !== gone),
        );
        waiting.get(binary)?.shift()?.();
      });
      all.add(h);
      return h;
    }
    await new Promise<void>((r) => waiting.set(binary, [...(waiting.get(binary) ?? []), r]));
  }
}

function release(binary: string, h: Helper): void {
  if (h.dead) return;
  idle.set(binary, [...(idle.get(binary) ?? []), h]);
  waiting.get(binary)?.shift()?.();
}

/**
 * Like run(cmd, args, {input}) for the two network commands: `kind` "net" runs `helper` (the
 * warren-net binary; warren-netd must sit next to it), "nft" runs nft from PATH. Falls back to
 * a plain spawn when warren-netd is not built, or with WARREN_NETD=off.
 */
export async function runNet(
  kind: "net" | "nft",
  helper: string,
  args: string[],
  input = "",
): Promise<RunResult> {
  const cmd = kind === "net" ? helper : "nft";
  const binary = path.join(path.dirname(helper), "warren-netd");
  if (!built.has(binary)) built.set(binary, existsSync(binary));
  // WARREN_NETD=off: spawn each command from here, as before (a fallback and a benchmark baseline).
  if (!built.get(binary) || process.env["WARREN_NETD"] === "off") return run(cmd, args, { input });
  const h = await acquire(binary);
  let res: RunResult;
  try {
    res = await h.request([kind, ...args], Buffer.from(input));
  } finally {
    release(binary, h);
  }
  if (res.code !== 0) {
    const msg = (res.stderr || res.stdout).trim().split("\n").slice(-3).join("; ");
    throw new Error(`${cmd} ${args.join(" ")}: exit ${res.code}${msg ? `: ${msg}` : ""}`);
  }
  return res;
}

/** Ends every idle helper (tests that count processes; a runner shutting down). */
export function closeNetHelpers(): void {
  for (const hs of idle.values()) for (const h of hs) h.close();
  idle.clear();
}
