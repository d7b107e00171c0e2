// Talking to warren-supervise (runner/native/warren-supervise.c) inside an environment: every
// call is the runner's exec of /.warren/supervise as the environment's root, so nothing of it runs
// on the host. What it prints comes from inside the environment and is read as hostile: bounded,
// and only known names, states and whole numbers are taken from it.
import {
  AUTOMATION_NAME_RE,
  type Automations,
  type RunnerExec,
  type ServiceState,
  SUPERVISE_PATH,
  type TaskState,
  WarrenError,
} from "@warren/protocol";

const MAX_STDOUT = 1024 * 1024;
const MAX_STDERR = 16 * 1024;

export interface SuperviseResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `/.warren/supervise ARGS...` in the environment and collects its output (capped). */
export async function supervise(
  runner: RunnerExec,
  envId: string,
  args: string[],
  o: { stdin?: string; timeoutMs?: number } = {},
): Promise<SuperviseResult> {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  let outBytes = 0;
  let errBytes = 0;
  let timer: NodeJS.Timeout | undefined;
  let timedOut = false;
  const code = await new Promise<number>((resolve, reject) => {
    runner
      .exec(
        envId,
        // Root inside: the supervisor drops to the configured user for what it starts.
        { cmd: [SUPERVISE_PATH, ...args], tty: false, user: "0", cwd: "/", helper: true },
        {
          stdout(d) {
            if (outBytes < MAX_STDOUT) out.push(Buffer.from(d).subarray(0, MAX_STDOUT - outBytes));
            outBytes += d.length;
          },
          stderr(d) {
            if (errBytes < MAX_STDERR) err.push(Buffer.from(d).subarray(0, MAX_STDERR - errBytes));
            errBytes += d.length;
          },
          exit: resolve,
          error: reject,
        },
      )
      .then((session) => {
        if (o.timeoutMs)
          timer = setTimeout(() => {
            timedOut = true;
            session.signal("SIGKILL");
          }, o.timeoutMs);
        if (o.stdin !== undefined) session.stdin(Buffer.from(o.stdin));
        session.endStdin();
      }, reject);
  }).finally(() => clearTimeout(timer));
  if (timedOut) {
    throw new WarrenError(
      "TIMEOUT",
      `${SUPERVISE_PATH} ${args[0] ?? ""} did not answer in ${o.timeoutMs} ms`,
    );
  }
  return { code, stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8") };
}

/** The supervisor is not up (not started yet, or an environment started before it existed). */
export function supervisorAbsent(r: SuperviseResult): boolean {
  return (r.code === 1 && r.stderr.includes("no supervisor answers")) || r.code === 126 || r.code === 127;
}

/** The supervisor's own one-line reason, without its program prefix. */
export function supervisorMessage(r: SuperviseResult): string {
  const line = r.stderr.split("\n").find((l) => l.trim() !== "") ?? `exit status ${r.code}`;
  return line
    .replace(/^warren-supervise: /, "")
    .replace(/[^\x20-\x7e]/g, "?")
    .slice(0, 300);
}

export interface UnitStatus {
  kind: "service" | "task";
  state: ServiceState | TaskState;
  pid?: number;
  restarts: number;
  runs: number;
  exitCode?: number;
  message?: string;
}

const SERVICE_STATES: readonly string[] = [
  "idle",
  "stopped",
  "waiting",
  "starting",
  "ready",
  "backoff",
  "stopping",
  "failed",
  "exited",
];
const TASK_STATES: readonly string[] = [
  "idle",
  "waiting",
  "running",
  "done",
  "failed",
  "stopped",
  "stopping",
];

function count(v: unknown, max: number): number | undefined {
  return typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= max ? v : undefined;
}

/** `ctl status` output, keeping only entries for units the automations declare. */
export function parseStatus(stdout: string, a: Automations): Map<string, UnitStatus> {
  const kinds = new Map<string, "service" | "task">([
    ...a.services.map((s) => [s.name, "service"] as const),
    ...a.tasks.map((t) => [t.name, "task"] as const),
  ]);
  const out = new Map<string, UnitStatus>();
  let raw: unknown;
  try {
    raw = JSON.parse(stdout);
  } catch {
    return out;
  }
  if (!Array.isArray(raw)) return out;
  for (const e of raw.slice(0, 256) as Record<string, unknown>[]) {
    if (typeof e !== "object" || e === null) continue;
    const name = e["name"];
    if (typeof name !== "string" || !AUTOMATION_NAME_RE.test(name)) continue;
    const kind = kinds.get(name);
    const state = e["state"];
    if (!kind || e["kind"] !== kind || typeof state !== "string") continue;
    if (!(kind === "service" ? SERVICE_STATES : TASK_STATES).includes(state)) continue;
    const s: UnitStatus = {
      kind,
      // A task the supervisor stopped (on quit) has not finished: it shows as failed.
      state: (kind === "task" && (state === "stopped" || state === "stopping")
        ? "failed"
        : state) as UnitStatus["state"],
      restarts: count(e["restarts"], 1e9) ?? 0,
      runs: count(e["runs"], 1e9) ?? 0,
    };
    const pid = count(e["pid"], 4_194_304);
    if (pid) s.pid = pid;
    const exit = count(e["exitCode"], 255);
    if (exit !== undefined) s.exitCode = exit;
    const msg = e["message"];
    if (typeof msg === "string" && msg) s.message = msg.replace(/[^\x20-\x7e]/g, "?").slice(0, 200);
    out.set(name, s);
  }
  return out;
}

/** The lines of a unit's log since its last start ("[warren-supervise] starting NAME"). */
export function linesOfLastRun(log: string, name: string): string[] {
  const lines = log.split("\n");
  if (lines.at(-1) === "") lines.pop();
  const marker = `[warren-supervise] starting ${name}`;
  const i = lines.lastIndexOf(marker);
  return i >= 0 ? lines.slice(i + 1) : lines;
}

/** The stored automations, checked for shape (they come from the store as plain JSON). */
export function asAutomations(x: unknown): Automations | undefined {
  if (typeof x !== "object" || x === null) return undefined;
  const a = x as Partial<Automations>;
  if (!Array.isArray(a.services) || !Array.isArray(a.tasks)) return undefined;
  const named = (u: unknown) =>
    typeof u === "object" && u !== null && typeof (u as { name?: unknown }).name === "string";
  if (!a.services.every(named) || !a.tasks.every(named)) return undefined;
  return { services: a.services, tasks: a.tasks };
}
