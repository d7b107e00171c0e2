// What every runner capability suite runs against: one implementation (the real Engine, the Engine
// or the fake behind the runner link, the fake itself) plus the few things only the caller knows
// (its runtime, an image it holds, how to start a server inside). The suites assert the contract
// of protocol runner.ts, never one implementation's figures.
import assert from "node:assert/strict";
import type {
  ExecRequest,
  Resources,
  RunnerEnvSpec,
  RunnerExec,
  RunnerLifecycle,
  RuntimeName,
} from "@warren/protocol";
import { WarrenError } from "@warren/protocol";

export interface RunnerSubject<C> {
  /** The capability under test, plus the lifecycle every suite needs to make its environments. */
  api: C & RunnerLifecycle;
  /** The runtime envSpec() asks for; info().runtimes must name it. */
  runtime: RuntimeName;
  /** A new environment's spec (fresh id and id slot), on an image the runner holds. */
  envSpec(name: string): RunnerEnvSpec;
  /** Removes every environment envSpec() handed out, and whatever else the subject made. */
  cleanup(): Promise<void>;
}

/** Resources small enough for a fast start; the suites read them back, so they are exact. */
export const SMALL: Resources = {
  cpus: 1,
  memoryBytes: 256 * 1024 ** 2,
  diskBytes: 128 * 1024 ** 2,
  pids: 512,
};

/**
 * Hands out specs with ids and slots unique in this process and remembers them, so cleanup can
 * remove them all even after a failed assertion.
 */
export function specMaker(o: {
  /** Up to 11 lowercase letters and digits, different for every subject sharing a runner. */
  tag: string;
  image: string;
  runtime: RuntimeName;
  nextSlot: () => number;
}): { envSpec(name: string): RunnerEnvSpec; ids: string[]; removeAll(api: RunnerLifecycle): Promise<void> } {
  const ids: string[] = [];
  return {
    ids,
    envSpec(name) {
      // Twelve lowercase letters and digits, as real ids are (the Engine refuses others).
      const id = `${o.tag}${String(ids.length).padStart(12 - o.tag.length, "0")}`;
      ids.push(id);
      return { id, name, slot: o.nextSlot(), image: o.image, runtime: o.runtime, resources: { ...SMALL } };
    },
    async removeAll(api) {
      for (const id of ids.splice(0)) await api.remove(id).catch(() => undefined);
    },
  };
}

let unique = 0;
/** An id nothing on any runner has: 12 characters like a real one. */
export function unknownId(): string {
  unique++;
  return `zz${Date.now().toString(36).slice(-6)}${String(unique).padStart(4, "0")}`.slice(0, 12);
}

/** Asserts a WarrenError with `code` (over the wire too: the error is rebuilt from its body). */
export async function rejectsWithCode(p: Promise<unknown>, code: string): Promise<WarrenError> {
  let caught: unknown;
  await p.then(
    (v) => assert.fail(`expected ${code}, got a result: ${JSON.stringify(v)?.slice(0, 200)}`),
    (err: unknown) => {
      caught = err;
    },
  );
  assert.ok(caught instanceof WarrenError, `expected a WarrenError ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  return caught;
}

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs one command to its exit, feeding `stdin` (then end of input) when given. */
export async function runExec(
  api: RunnerExec,
  id: string,
  cmd: string[],
  o: { stdin?: string[]; req?: Partial<ExecRequest> } = {},
): Promise<ExecResult> {
  let stdout = "";
  let stderr = "";
  let settle!: { resolve(r: ExecResult): void; reject(e: Error): void };
  const done = new Promise<ExecResult>((resolve, reject) => {
    settle = { resolve, reject };
  });
  const session = await api.exec(
    id,
    { cmd, tty: false, ...o.req },
    {
      stdout: (d) => {
        stdout += Buffer.from(d).toString();
      },
      stderr: (d) => {
        stderr += Buffer.from(d).toString();
      },
      exit: (code) => settle.resolve({ code, stdout, stderr }),
      error: (err) => settle.reject(err),
    },
  );
  if (o.stdin) {
    for (const chunk of o.stdin) session.stdin(Buffer.from(chunk));
    session.endStdin();
  }
  return withTimeout(done, 15_000, `exec ${cmd.join(" ")}`);
}

export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, limit]).finally(() => clearTimeout(timer));
}
