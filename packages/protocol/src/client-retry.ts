// What the API client does when the daemon is not there or goes away mid-request (a restart, a
// crash, kill -9). A request that never reached it can always be sent again. One that was cut
// after sending is sent again only if repeating it is harmless: reads, PUT and DELETE, intents
// (start, stop), and POSTs that carry an Idempotency-Key. Anything else fails with an error that
// says its outcome is unknown, instead of guessing.
import { isWarrenError, WarrenError } from "./errors.ts";

export interface UnavailableEvent {
  method: string;
  path: string;
  /** Whether the request may have reached the daemon before the connection failed. */
  sent: boolean;
  /** 0 for the first failure of this request. */
  attempt: number;
}

/** Resolves true once it is worth retrying (the daemon answers again), false to give up. */
export type UnavailableHook = (e: UnavailableEvent) => Promise<boolean>;

export const MAX_RETRIES = 3;
const CONFLICT_WAIT_MS = 500;

/** undefined: not a connection failure. false: never reached the daemon. true: may have. */
export function reachedDaemon(err: unknown): boolean | undefined {
  if (!isWarrenError(err, "DAEMON_UNAVAILABLE")) return undefined;
  const errno = (err.details as { errno?: string } | undefined)?.errno;
  return !(errno === "ENOENT" || errno === "ECONNREFUSED");
}

export function unknownOutcome(method: string, path: string, err: WarrenError): WarrenError {
  return new WarrenError(
    "DAEMON_UNAVAILABLE",
    `the daemon went away while handling ${method} ${path}, so whether it took effect is unknown (${err.message}); check with \`warren ls\` before repeating it`,
    { ...(err.details ?? {}), outcome: "unknown" },
  );
}

export async function withRetries<T>(
  req: { method: string; path: string; idempotent: boolean },
  hook: UnavailableHook | undefined,
  once: (attempt: number) => Promise<T>,
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await once(attempt);
    } catch (err) {
      // A retried key whose first request is still recorded as running: the server finishes or
      // forgets it shortly.
      if (attempt > 0 && attempt <= MAX_RETRIES && isWarrenError(err, "IDEMPOTENCY_CONFLICT")) {
        await new Promise((r) => setTimeout(r, CONFLICT_WAIT_MS));
        continue;
      }
      const sent = reachedDaemon(err);
      if (sent === undefined) throw err;
      const e = err as WarrenError;
      if (sent && !req.idempotent) throw unknownOutcome(req.method, req.path, e);
      if (!hook || attempt >= MAX_RETRIES) throw e;
      if (!(await hook({ method: req.method, path: req.path, sent, attempt }))) throw e;
    }
  }
}
