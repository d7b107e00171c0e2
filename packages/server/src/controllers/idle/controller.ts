// The idle-stop loop: every interval it reads the running environments, their limits and what
// services/activity.ts knows of their use, plans (controllers/idle/plan.ts) and acts. A stop is
// `warren stop`'s: the intent (desired = stopped, the disk kept) is made durable first, guarded by
// the generation the pass read so a start or stop that raced it wins, then the environment
// controller does the work. Time comes from the injected clock.
import { formatIdleTimeout } from "@warren/protocol";
import { type Clock, isoNow, type TimerHandle } from "../../clock.ts";
import type { Logger } from "../../logger.ts";
import type { ActivityState } from "../../services/activity.ts";
import type { ChangeFeed } from "../../services/changes.ts";
import { DEFAULT_STOP_GRACE_MS } from "../../services/environments.ts";
import { effectiveIdleTimeout } from "../../services/idle-settings.ts";
import { ownershipOf } from "../../services/scope.ts";
import type { Db } from "../../store/db.ts";
import type { EnvRow } from "../../store/queries/envs.ts";
import { insertEvent } from "../../store/queries/events.ts";
import {
  advanceDeadline,
  classIdleLimits,
  listRunningEnvs,
  orgIdleMaximums,
  stopIdleEnv,
} from "../../store/queries/idle.ts";
import {
  DEFAULT_IDLE_POLICY,
  type IdleAction,
  type IdlePolicy,
  type IdleSnapshot,
  planIdle,
} from "./plan.ts";

export interface IdleControllerOptions {
  db: Db;
  clock: Clock;
  logger: Logger;
  changes: ChangeFeed;
  /** Hands a stopped environment to the environment controller. */
  enqueue: (id: string) => void;
  activity: ActivityState;
  /** How often a pass runs; default 30 s. */
  intervalMs?: number;
  policy?: Partial<IdlePolicy>;
}

export interface IdleController {
  start(): void;
  /** One pass (exposed for tests); returns what it did. */
  pass(): Promise<IdleAction[]>;
  close(): Promise<void>;
}

const ms = (iso: string | null | undefined) => (iso ? Date.parse(iso) : undefined);
const later = (a: number | undefined, b: number | undefined) =>
  a === undefined ? b : b === undefined ? a : Math.max(a, b);

export function createIdleController(o: IdleControllerOptions): IdleController {
  const { db, clock, activity } = o;
  const policy: IdlePolicy = { ...DEFAULT_IDLE_POLICY, ...o.policy };
  const intervalMs = o.intervalMs ?? 30_000;
  const warned = new Map<string, number>();
  let timer: TimerHandle | undefined;
  let running: Promise<IdleAction[]> | undefined;
  let closed = false;

  async function snapshot(): Promise<{ rows: Map<string, EnvRow>; snaps: IdleSnapshot[] }> {
    const envRows = await listRunningEnvs(db);
    const orgMax = await orgIdleMaximums(db);
    const classes = await classIdleLimits(db);
    const classMax = (row: EnvRow, org: string) =>
      classes.find((c) => c.name === row.class_name && c.org_id === org && c.builtin === 0)?.idle_timeout_s ??
      classes.find((c) => c.name === row.class_name && c.builtin === 1)?.idle_timeout_s ??
      null;
    const rows = new Map<string, EnvRow>();
    const snaps = envRows.map((row): IdleSnapshot => {
      rows.set(row.id, row);
      const org = ownershipOf(row).org_id;
      return {
        id: row.id,
        name: row.name,
        timeoutSeconds: effectiveIdleTimeout(row.idle_timeout_s, {
          classMax: classMax(row, org),
          orgMax: orgMax.get(org) ?? null,
        }),
        since: Date.parse(row.updated_at),
        lastActivityAt: later(ms(row.last_activity_at), ms(activity.last(row.id)?.at)),
        storedDeadline: ms(row.idle_deadline),
        lastDisconnectAt: activity.lastDisconnect(row.id),
        terminals: activity.connections(row.id),
        warnedFor: warned.get(row.id),
      };
    });
    // Forget warnings of environments that no longer run.
    for (const id of warned.keys()) if (!rows.has(id)) warned.delete(id);
    return { rows, snaps };
  }

  async function act(a: IdleAction, row: EnvRow, timeout: number | null): Promise<void> {
    const now = isoNow(clock);
    if (a.type === "recordDeadline") {
      await advanceDeadline(db, a.id, new Date(a.deadline).toISOString());
      return;
    }
    if (a.type === "warn") {
      const minutes = Math.max(1, Math.round((a.deadline - clock.now()) / 60_000));
      activity.notify(
        a.id,
        `${row.name} has not been used for a while and stops in about ${minutes} minute${minutes === 1 ? "" : "s"} (idle timeout ${formatIdleTimeout(timeout)}); type anything to keep it running. Its disk is kept.`,
      );
      warned.set(a.id, a.deadline);
      return;
    }
    if (!(await stopIdleEnv(db, a.id, row.generation, DEFAULT_STOP_GRACE_MS, now))) return;
    warned.delete(a.id);
    const last = activity.last(a.id) ?? lastStored(row);
    const why = last ? `last used ${last.at} (${last.kind}, ${last.source})` : "not used since it started";
    const message = `stopped after ${formatIdleTimeout(timeout)} without use; ${why}. The disk is kept: \`warren start ${row.name}\` starts it again`;
    await insertEvent(db, a.id, now, message);
    o.logger.info({ envId: a.id, name: row.name, idleTimeout: timeout, last }, "idle environment stopped");
    o.changes.emit(a.id);
    o.enqueue(a.id);
  }

  async function pass(): Promise<IdleAction[]> {
    const { rows, snaps } = await snapshot();
    const actions = planIdle(snaps, clock.now(), policy);
    for (const a of actions) {
      const row = rows.get(a.id);
      const snap = snaps.find((s) => s.id === a.id);
      if (!row || !snap) continue;
      try {
        await act(a, row, snap.timeoutSeconds);
      } catch (err) {
        o.logger.warn({ envId: a.id, action: a.type, err }, "idle stop: action failed; retried next pass");
      }
    }
    return actions;
  }

  function tick(): void {
    if (closed) return;
    timer = clock.setTimeout(() => {
      timer = undefined;
      running = pass().catch((err: unknown) => {
        o.logger.warn({ err }, "idle stop pass failed");
        return [];
      });
      void running.finally(tick);
    }, intervalMs);
  }

  return {
    start: tick,
    pass,
    async close() {
      closed = true;
      if (timer) clock.clearTimeout(timer);
      await running;
    },
  };
}

function lastStored(row: EnvRow) {
  if (!row.last_activity_at) return undefined;
  return {
    at: row.last_activity_at,
    kind: row.last_activity_kind ?? "?",
    source: row.last_activity_source ?? "?",
  };
}
