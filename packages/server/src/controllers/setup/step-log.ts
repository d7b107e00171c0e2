// The setup steps' output in the environment's log (`warren logs`): each line carries its step
// ("[clone] Receiving objects: 100%"), and the runner adds the time. Lines are batched so a
// chatty build costs a few appends a second, not one round trip per line.
import type { RunnerLifecycle } from "@warren/protocol";
import type { Logger } from "../../logger.ts";

export type StepLog = ((step: string, line: string) => void) & { flush(): Promise<void> };

// Under the runner link's 64 KiB message cap.
const MAX_BATCH_BYTES = 48 * 1024;

export function createStepLog(
  runner: Pick<RunnerLifecycle, "appendEvent">,
  envId: string,
  logger: Logger,
  flushMs = 250,
): StepLog {
  let pending: string[] = [];
  let bytes = 0;
  let timer: NodeJS.Timeout | undefined;
  let chain = Promise.resolve();
  const flushNow = (): Promise<void> => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (pending.length === 0) return chain;
    const batch = pending;
    pending = [];
    bytes = 0;
    chain = chain
      .then(() => runner.appendEvent(envId, batch.join("\n")))
      .catch((err: unknown) =>
        logger.warn({ envId, err }, "could not append setup output to the environment log"),
      );
    return chain;
  };
  const log = ((step: string, line: string) => {
    const l = `[${step}] ${line}`;
    if (bytes + l.length > MAX_BATCH_BYTES) void flushNow();
    pending.push(l);
    bytes += l.length + 1;
    timer ??= setTimeout(() => void flushNow(), flushMs);
  }) as StepLog;
  log.flush = flushNow;
  return log;
}
