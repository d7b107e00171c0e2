// The pure half of idle stop: from each running environment's timeout, last use and connections,
// decide whom to warn and whom to stop. No I/O and no clock here: `now` is an argument, so every
// case is a row in test/idle-plan.test.ts.
//
// Rules:
// - the deadline is the latest of: the stored one (it only moves forward), the last activity
//   plus the timeout, and the last change of state or intent (a start) plus the timeout;
// - past the deadline, an environment whose last connection closed less than the grace period
//   ago is kept (measured from that disconnect, not from the last activity), then stopped;
// - connected terminals are warned once per deadline, `warnMs` before it.

export interface IdleSnapshot {
  id: string;
  name: string;
  /** The timeout in force (seconds): the shortest of the owner's, the class's and the org's; null: never. */
  timeoutSeconds: number | null;
  /** When it last changed state or intent (ms): a fresh start counts as use. */
  since: number;
  /** The latest activity known, in memory or stored (ms). */
  lastActivityAt?: number | undefined;
  /** The stored deadline (ms). */
  storedDeadline?: number | undefined;
  /** When its last connection closed (ms). */
  lastDisconnectAt?: number | undefined;
  /** Connections open now that can show a warning. */
  terminals: number;
  /** The deadline a warning was already sent for. */
  warnedFor?: number | undefined;
}

export interface IdlePolicy {
  graceMs: number;
  warnMs: number;
}

export const DEFAULT_IDLE_POLICY: IdlePolicy = { graceMs: 5 * 60_000, warnMs: 5 * 60_000 };

export type IdleAction =
  | { type: "stop"; id: string; deadline: number }
  | { type: "warn"; id: string; deadline: number }
  /** Stores the deadline where none is stored for this run (ls and inspect show it). */
  | { type: "recordDeadline"; id: string; deadline: number };

/** The environment's deadline, or undefined when it never stops for idleness. */
export function deadlineOf(s: IdleSnapshot): number | undefined {
  if (s.timeoutSeconds === null) return undefined;
  const base = Math.max(s.since, s.lastActivityAt ?? Number.NEGATIVE_INFINITY);
  return Math.max(s.storedDeadline ?? Number.NEGATIVE_INFINITY, base + s.timeoutSeconds * 1000);
}

export function planIdle(snapshots: IdleSnapshot[], now: number, p: IdlePolicy = DEFAULT_IDLE_POLICY) {
  const actions: IdleAction[] = [];
  for (const s of snapshots) {
    const deadline = deadlineOf(s);
    if (deadline === undefined) continue;
    if (now >= deadline) {
      const inGrace = s.lastDisconnectAt !== undefined && now < s.lastDisconnectAt + p.graceMs;
      if (!inGrace) actions.push({ type: "stop", id: s.id, deadline });
      continue;
    }
    // None stored yet, or one left from before the last start: ls and inspect show the new one.
    if (s.storedDeadline === undefined || s.storedDeadline < s.since)
      actions.push({ type: "recordDeadline", id: s.id, deadline });
    if (now >= deadline - p.warnMs && s.terminals > 0 && s.warnedFor !== deadline) {
      actions.push({ type: "warn", id: s.id, deadline });
    }
  }
  return actions;
}
