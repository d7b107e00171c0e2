// Remembers which containers the runtime last reported running, so the next state() question
// about one is answered without starting the runtime (`crun state` costs about 18 ms here, and
// every exec, stats, dial and port call asks). It is an answer only while the container's init
// is provably the same live process: same pid, same start time in /proc/PID/stat, not a zombie.
// Anything else (init gone, pid reused, state dir gone) asks the runtime again. For runtimes
// whose container is running exactly while its init lives (runc, crun; not gVisor's sandbox).
import { readFile } from "node:fs/promises";
import type { ContainerState } from "./types.ts";

interface Known {
  state: ContainerState;
  startTime: string;
}

/** Field 22 (start time, in clock ticks since boot) and field 3 (state) of /proc/PID/stat. */
export async function procStart(
  pid: number,
  procRoot = "/proc",
): Promise<{ startTime: string; state: string } | null> {
  const text = await readFile(`${procRoot}/${pid}/stat`, "utf8").catch(() => null);
  if (text === null) return null;
  // The command name (field 2) may hold spaces and parentheses: fields count from its last ')'.
  const rest = text.slice(text.lastIndexOf(")") + 2).split(" ");
  const state = rest[0];
  const startTime = rest[19];
  return state && startTime ? { state, startTime } : null;
}

export class RunningStates {
  readonly #known = new Map<string, Known>();
  readonly #procRoot: string;

  constructor(procRoot = "/proc") {
    this.#procRoot = procRoot;
  }

  /** What the runtime said (called with every state it reports; only running ones are kept). */
  async remember(state: ContainerState): Promise<void> {
    this.#known.delete(state.id);
    if (state.status !== "running" || state.pid <= 0) return;
    const proc = await procStart(state.pid, this.#procRoot);
    if (proc && !isDead(proc.state)) this.#known.set(state.id, { state, startTime: proc.startTime });
  }

  /** The remembered running state, if its init is still the same live process; else undefined. */
  async running(id: string): Promise<ContainerState | undefined> {
    const k = this.#known.get(id);
    if (!k) return undefined;
    const proc = await procStart(k.state.pid, this.#procRoot);
    if (proc && proc.startTime === k.startTime && !isDead(proc.state)) return { ...k.state };
    this.#known.delete(id);
    return undefined;
  }

  forget(id: string): void {
    this.#known.delete(id);
  }
}

/** Zombie or dead: exited, only not yet reaped. */
function isDead(state: string): boolean {
  return state === "Z" || state === "X" || state === "x";
}
