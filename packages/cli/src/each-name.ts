// `warren rm|stop|start NAME...`: every name is tried even when one fails, as `docker rm a b` does.
// Each failure is reported on its own line as it happens; the status is 1 if any name failed
// (70 if a failure was a bug in Warren), 0 otherwise.
import { reportError } from "./run.ts";

/** Environments handled at once in parallel mode: enough to overlap waits, few enough to stay polite. */
const PARALLEL = 4;

export interface EachNameResult<T> {
  /** Results of the names that succeeded, in the order the names were given. */
  done: T[];
  status: number;
}

/**
 * Runs `work` for each distinct name. "sequential" suits work that may ask on the terminal;
 * "parallel" lets several environments stop or start at the same time. `onDone` runs as each
 * name finishes, so progress shows before the slowest one is done.
 */
export async function eachName<T>(
  names: string[],
  work: (name: string) => Promise<T>,
  opts: {
    mode: "sequential" | "parallel";
    onDone?: (result: T) => void;
    /** A failure that ends the whole command (e.g. ^C at a prompt): later names are not tried. */
    stopsAll?: (err: unknown) => boolean;
  },
): Promise<EachNameResult<T>> {
  const unique = [...new Set(names)];
  const results: ({ ok: true; value: T } | { ok: false; status: number })[] = [];
  let stopped = false;
  const one = async (i: number) => {
    if (stopped) return;
    try {
      const value = await work(unique[i]!);
      results[i] = { ok: true, value };
      opts.onDone?.(value);
    } catch (err) {
      results[i] = { ok: false, status: reportError(err, "plain", process.stderr) };
      if (opts.stopsAll?.(err)) stopped = true;
    }
  };
  if (opts.mode === "sequential") {
    for (let i = 0; i < unique.length; i++) await one(i);
  } else {
    let next = 0;
    const worker = async () => {
      while (next < unique.length) await one(next++);
    };
    await Promise.all(Array.from({ length: Math.min(PARALLEL, unique.length) }, worker));
  }
  let status = 0;
  const done: T[] = [];
  for (const r of results) {
    if (!r) continue;
    if (r.ok) done.push(r.value);
    else status = Math.max(status, r.status);
  }
  return { done, status };
}
