// The runner's RunnerApi.exec as the exec-stream fuzzer sees it (exec-fuzz-world.ts): a stub that
// records every call and every input and checks each on its own terms (not with the schema the
// runner validates with), and a reader of what the runner sends back that checks each frame is
// one an honest control plane accepts.
import { constants } from "node:os";
import type { Duplex } from "node:stream";
import { type RunnerApi, WarrenError } from "@warren/protocol";
import { errorFromWire } from "@warren/protocol/runner-validate";
import { EXEC_FRAME as F, FrameReader, MAX_EXEC_PAYLOAD } from "@warren/protocol/streams";
import type { Fuzzer } from "@warren/testing/runner-fuzz";
import { SIGNALS } from "./exec-fuzz-frames.ts";

const tick = () => new Promise<void>((r) => setImmediate(r));
export type ExecApi = Pick<RunnerApi, "exec">;

export interface Plan {
  fail?: "warren" | "plain";
  exitOnEof: boolean;
  lose: boolean; // ends with Warren's error instead of an exit status
  burst: boolean; // more output than one frame holds
  code: number;
}
export interface Rec {
  calls: number;
  id?: unknown;
  req?: unknown;
  started: boolean;
  done: boolean;
  code?: number;
  inputs: string[];
  lateSignals: string[];
  stdin: Buffer[];
  echoed: Buffer[];
}
const ENDING: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };
const REQ_KEYS = new Set(["cmd", "tty", "cols", "rows", "env", "cwd", "user"]);
const int16 = (n: unknown, min: number) =>
  Number.isInteger(n) && (n as number) >= min && (n as number) <= 65_535;

/** What a validated exec request looks like, checked without the schema the runner uses. */
function requestProblem(id: unknown, req: unknown): string | undefined {
  if (typeof id !== "string" || id.length < 1 || id.length > 128) return `id ${JSON.stringify(id)}`;
  if (typeof req !== "object" || req === null) return "request is not an object";
  const r = req as Record<string, unknown>;
  if (Object.keys(r).some((k) => !REQ_KEYS.has(k))) return `request keys ${Object.keys(r)}`;
  const cmd = r["cmd"];
  if (!Array.isArray(cmd) || cmd.length < 1 || cmd.length > 4096) return "cmd is not a bounded list";
  if (cmd.some((c) => typeof c !== "string" || c.length > 131_072))
    return "cmd holds a non-string or huge argument";
  if (typeof r["tty"] !== "boolean") return "tty";
  for (const k of ["cols", "rows"]) if (r[k] !== undefined && !int16(r[k], 0)) return k;
  const env = r["env"];
  if (
    env !== undefined &&
    (typeof env !== "object" || env === null || Object.values(env).some((x) => typeof x !== "string"))
  )
    return "env";
  for (const k of ["cwd", "user"]) if (r[k] !== undefined && typeof r[k] !== "string") return k;
  return undefined;
}

export function stubExec(fz: Fuzzer, plan: Plan, rec: Rec, bad: (m: string) => void): ExecApi {
  return {
    exec: async (id, req, h) => {
      rec.calls++;
      const wrong = requestProblem(id, req);
      if (wrong) bad(`exec got an unchecked request: ${wrong}`);
      rec.id = id;
      rec.req = req;
      if (fz.chance(0.5)) await tick();
      if (plan.fail === "warren") throw new WarrenError("ENV_NOT_RUNNING", "the environment is not running");
      if (plan.fail === "plain") throw new Error("x".repeat(100_000));
      const finish = (code: number) => {
        if (rec.done) return;
        rec.done = true;
        rec.code = code;
        if (plan.lose) h.error?.(new WarrenError("INTERNAL", "the command was lost"));
        else h.exit(code);
      };
      const note = (what: string) => {
        rec.inputs.push(what);
        if (!rec.done) return;
        if (what.startsWith("signal:")) rec.lateSignals.push(what);
        else bad(`${what} reached the command after it ended`);
      };
      rec.started = true;
      if (plan.burst) setImmediate(() => rec.done || h.stdout(Buffer.alloc(MAX_EXEC_PAYLOAD + 300_000, 7)));
      return {
        stdin: (d) => {
          note("stdin");
          if (!(d instanceof Uint8Array)) bad("stdin is not bytes");
          rec.stdin.push(Buffer.from(d));
          if (!rec.done && !plan.burst) {
            rec.echoed.push(Buffer.from(d));
            h.stdout(d); // cat
          }
          return fz.chance(0.8); // sometimes the command reads slower than input arrives
        },
        whenStdinWritable: () => new Promise<void>((r) => setImmediate(r)),
        endStdin: () => {
          note("eof");
          if (plan.exitOnEof) setImmediate(() => finish(plan.code));
        },
        resize: (cols, rows) => {
          note("resize");
          if (!int16(cols, 1) || !int16(rows, 1)) bad(`resize ${cols}x${rows}`);
        },
        signal: (sig) => {
          note(`signal:${sig}`);
          if (!SIGNALS.includes(sig) || !Object.hasOwn(constants.signals, sig)) bad(`signal ${String(sig)}`);
          const n = ENDING[sig];
          if (n !== undefined) {
            if (fz.chance(0.5)) finish(128 + n);
            else setImmediate(() => finish(128 + n));
          }
        },
        pause: () => {},
        resume: () => {},
      };
    },
  };
}

export interface RunnerOut {
  started: number;
  out: Buffer[];
  ends: number;
  exit?: number;
  error?: WarrenError;
}

/** Reads what the runner sends, checking each frame is one an honest control plane accepts. */
export function readRunner(peer: Duplex, v: (m: string) => void): RunnerOut {
  const got: RunnerOut = { started: 0, out: [], ends: 0 };
  const reader = new FrameReader();
  peer.on("data", (chunk: Buffer) => {
    try {
      reader.push(chunk, (type, payload) => {
        if (got.ends) v(`the runner sent frame ${type} after the end`);
        if (type === F.started) {
          if (got.started++) v("the runner sent STARTED twice");
        } else if (type === F.stdout || type === F.stderr) {
          if (!got.started) v("the runner sent output before STARTED");
          got.out.push(Buffer.from(payload));
        } else if (type === F.exit) {
          got.ends++;
          got.exit = JSON.parse(payload.toString()) as number;
          if (!got.started) v("the runner sent EXIT before STARTED");
          if (!Number.isInteger(got.exit) || got.exit < -1 || got.exit > 65_535) v(`exit status ${got.exit}`);
        } else if (type === F.error) {
          got.ends++;
          got.error = errorFromWire(JSON.parse(payload.toString()));
        } else v(`the runner sent frame type ${type}`);
      });
    } catch (err) {
      v(`the runner sent a frame the control plane refuses: ${(err as Error).message}`);
    }
  });
  return got;
}
