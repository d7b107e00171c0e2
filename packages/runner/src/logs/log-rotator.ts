// Keeps every environment's log under its cap even when only init writes: the runtime appends
// init's output straight to the file, so no Warren code sees those writes happen. A periodic
// sweep (default every 10 s) bounds a log to about maxBytes plus what init writes in one period.
import { readdir } from "node:fs/promises";
import path from "node:path";
import type { RunnerConfig } from "../host/config.ts";
import { ID_RE } from "../host/names.ts";
import { type LogLimits, logLimits, rotateIfNeeded } from "./env-log.ts";

export const LOG_CHECK_MS = 10_000;

/** One pass over every environment dir; returns the log files it rotated. */
export async function rotateAllLogs(
  cfg: Pick<RunnerConfig, "root">,
  limits: LogLimits,
  logFileOf: (id: string) => string,
): Promise<string[]> {
  const rotated: string[] = [];
  const ids = await readdir(path.join(cfg.root, "envs")).catch(() => [] as string[]);
  for (const id of ids) {
    if (!ID_RE.test(id)) continue;
    const file = logFileOf(id);
    // One bad file (removed mid-pass, a full disk) must not stop the others from rotating.
    if (await rotateIfNeeded(file, limits).catch(() => false)) rotated.push(file);
  }
  return rotated;
}

/** Starts the periodic check; the timer is unref'd so it never keeps a process alive. */
export function startLogRotation(
  cfg: RunnerConfig,
  logFileOf: (id: string) => string,
  everyMs = LOG_CHECK_MS,
): () => void {
  let running = false;
  const timer = setInterval(() => {
    if (running) return; // a slow pass (hundreds of environments) never overlaps the next
    running = true;
    rotateAllLogs(cfg, logLimits(cfg), logFileOf).finally(() => {
      running = false;
    });
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
