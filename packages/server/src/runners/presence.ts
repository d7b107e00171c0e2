// Which replica holds which runner, in the store (migration 014), so replicas that share a
// PostgreSQL database can tell "this runner is connected to another replica" (leave its
// environments to that replica, place with what it last reported) from "no replica holds it" (say
// so; after a grace period it is unreachable: health.ts). With SQLite there is one replica and the
// rows are simply this process's view.
//
// The heartbeat reads every held runner's report (info(): capacity, labels, live usage) and keeps it
// in memory, where this replica's placement reads it. The store gets, per beat, one statement that
// refreshes seen_at of every held runner, and one batched write of the reports that changed in a
// way placement on other replicas cares about (report-change.ts); capacity rows follow only when
// capacity changed. No per-runner write per beat.
import type { RunnerInfo } from "@warren/protocol";
import type { Logger } from "../logger.ts";
import type { Db } from "../store/db.ts";
import { registerRunnerCapacity } from "../store/queries/fleet-admission.ts";
import { persistRunnerReports } from "../store/queries/runner-health.ts";
import {
  liveRunners,
  releaseRunner,
  type SeenRunner,
  tokenBinding,
  touchRunners,
  upsertRunner,
} from "../store/queries/runners.ts";
import type { RemoteRunner } from "./remote-runner.ts";
import { capacityChanged, reportMatters } from "./report-change.ts";
import { checkTokenBinding } from "./runner-identity.ts";

export const DEFAULT_HEARTBEAT_MS = 15_000;
/** Image lists are re-read every this many beats (and after the hub changed the image store). */
const IMAGE_BEATS = 4;
/** A report that does not come back within this share of the beat is skipped until the next one. */
const REPORT_TIMEOUT_SHARE = 0.8;

/** A row not refreshed for this long belongs to a replica that died holding it. */
export function staleMs(heartbeatMs: number): number {
  return Math.max(30_000, 3 * heartbeatMs);
}

/** A runner this replica holds, with its latest report (live) and what the store has (written). */
export interface HeldRunner {
  remote: RemoteRunner;
  orgId: string;
  name: string;
  live: RunnerInfo;
  images: string[];
  written: RunnerInfo;
  writtenImages: string[];
  beats: number;
  /** The hub pulled, imported or removed an image: re-read the list at the next beat. */
  imagesDirty: boolean;
}

export interface RunnerPresence {
  readonly replicaId: string;
  readonly staleMs: number;
  /** Records a runner this replica now holds (its row, its capacity row); fills `h.images`. */
  held(h: HeldRunner): Promise<void>;
  released(runnerId: string): Promise<void>;
  /** A live runner of the organisation held by another replica, most recently seen first. */
  elsewhere(orgId: string): Promise<SeenRunner | undefined>;
  /** One heartbeat (the timer's; exposed for tests). */
  beat(): Promise<void>;
  /** Starts the heartbeat over the runners `heldNow` lists at each beat. */
  start(heldNow: () => HeldRunner[]): void;
  close(): void;
}

export function createRunnerPresence(o: {
  db: Db;
  replicaId: string;
  logger: Logger;
  heartbeatMs?: number;
}): RunnerPresence {
  const heartbeatMs = o.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
  const stale = staleMs(heartbeatMs);
  let timer: NodeJS.Timeout | undefined;
  let heldNow: () => HeldRunner[] = () => [];
  let beating: Promise<void> | undefined;
  const now = () => new Date().toISOString();
  const imageRefs = (r: RemoteRunner) =>
    r.listImages().then(
      (list) => list.map((i) => i.ref),
      () => undefined,
    );
  const within = <T>(p: Promise<T>, ms: number): Promise<T | undefined> =>
    Promise.race([p, new Promise<undefined>((res) => setTimeout(() => res(undefined), ms).unref())]);

  /** Reads one runner's report into memory; whether the store must hear about it. */
  const refresh = async (h: HeldRunner): Promise<boolean> => {
    const budget = Math.max(50, heartbeatMs * REPORT_TIMEOUT_SHARE);
    const info = await within(
      h.remote.info().catch(() => undefined),
      budget,
    );
    if (info) h.live = { ...info, id: h.remote.runnerId };
    if (h.imagesDirty || ++h.beats % IMAGE_BEATS === 0) {
      const refs = await within(imageRefs(h.remote), budget);
      if (refs) {
        h.images = refs;
        h.imagesDirty = false;
      }
    }
    return reportMatters(h.written, h.live) || JSON.stringify(h.images) !== JSON.stringify(h.writtenImages);
  };

  const beat = async () => {
    const held = heldNow().filter((h) => h.remote.connected);
    if (held.length === 0) return;
    try {
      await touchRunners(
        o.db,
        held.map((h) => h.remote.runnerId),
        o.replicaId,
        now(),
      );
      const changed = (await Promise.all(held.map(async (h) => ((await refresh(h)) ? h : undefined)))).filter(
        (h): h is HeldRunner => h !== undefined,
      );
      if (changed.length === 0) return;
      await persistRunnerReports(
        o.db,
        o.replicaId,
        now(),
        changed.map((h) => ({ id: h.remote.runnerId, orgId: h.orgId, info: h.live, imageRefs: h.images })),
      );
      for (const h of changed) {
        if (capacityChanged(h.written, h.live))
          await registerRunnerCapacity(o.db, { runnerId: h.remote.runnerId, orgId: h.orgId, info: h.live });
        h.written = h.live;
        h.writtenImages = h.images;
      }
    } catch (err) {
      o.logger.warn({ err }, "runner heartbeat failed; retried at the next beat");
    }
  };

  return {
    replicaId: o.replicaId,
    staleMs: stale,
    async held(h) {
      h.images = (await imageRefs(h.remote)) ?? [];
      h.writtenImages = h.images;
      const bound = await upsertRunner(o.db, {
        id: h.remote.runnerId,
        orgId: h.orgId,
        info: h.live,
        name: h.name,
        imageRefs: h.images,
        replica: o.replicaId,
        now: now(),
      });
      // Another host bound the token between the hub's check and this write (runner-identity.ts).
      if (!bound) checkTokenBinding(await tokenBinding(o.db, h.remote.runnerId), h.live.hostId);
      await registerRunnerCapacity(o.db, { runnerId: h.remote.runnerId, orgId: h.orgId, info: h.live });
      h.written = h.live;
    },
    released: (runnerId) => releaseRunner(o.db, runnerId, o.replicaId, now()),
    async elsewhere(orgId) {
      const since = new Date(Date.now() - stale).toISOString();
      return (await liveRunners(o.db, orgId, since)).find((r) => r.replica !== o.replicaId);
    },
    async beat() {
      // One beat at a time: a slow store must not pile beats up.
      beating ??= beat().finally(() => {
        beating = undefined;
      });
      return beating;
    },
    start(list) {
      heldNow = list;
      timer = setInterval(() => void this.beat(), heartbeatMs);
      timer.unref();
    },
    close() {
      if (timer) clearInterval(timer);
    },
  };
}
