// FleetView for `warren server` (scheduler/fleet-view.ts): what placement reads about an
// organisation's runners, from memory. The runners this replica holds are read live (their last
// heartbeat report: usage, labels, runtimes, images); the others from the store's rows (runners +
// runner_capacity), which each organisation's entry re-reads in the background once it is older
// than the refresh interval, so a create never waits on a read of the whole fleet. Allocation
// admitted here since the last read is added on top, so back-to-back creates see each other.
// Snapshots may still lag other replicas' admissions: the conditional capacity update at admission
// (store/queries/fleet-admission.ts) is the truth.
import type { Logger } from "../logger.ts";
import type { FleetView } from "../scheduler/fleet-view.ts";
import type { RunnerSnapshot } from "../scheduler/types.ts";
import type { Db } from "../store/db.ts";
import { type RunnerRecord, runnerRecords } from "../store/queries/runners.ts";
import type { HeldRunner } from "./presence.ts";

export const DEFAULT_FLEET_REFRESH_MS = 1500;
/** An organisation nobody placed in for this long is dropped from memory. */
const UNUSED_MS = 5 * 60_000;

type Need = { cpus: number; memoryBytes: number; diskBytes: number; slots: number };

interface OrgEntry {
  at: number;
  usedAt: number;
  records: RunnerRecord[];
  /** Admitted here since the read started, per runner. */
  admitted: Map<string, Need>;
  loading?: Promise<void>;
  /** Invalidated while a read was in flight: that read is already too old. */
  invalidated?: boolean;
}

export interface FleetCache extends FleetView {
  /** One runner's record, at most one refresh interval old (routing and ownership read it). */
  runner(runnerId: string): Promise<RunnerRecord | undefined>;
  /** Re-read the organisation at its next placement (a runner attached, was cordoned, went). */
  invalidate(orgId: string): void;
  close(): void;
}

export function createFleetCache(o: {
  db: Db;
  replicaId: string;
  /** A store row not refreshed for this long belongs to a replica that died (presence.ts). */
  staleMs: number;
  /** The runner if this replica holds it. */
  held: (runnerId: string) => HeldRunner | undefined;
  logger: Logger;
  refreshMs?: number;
  now?: () => number;
}): FleetCache {
  const refreshMs = o.refreshMs ?? DEFAULT_FLEET_REFRESH_MS;
  const now = o.now ?? Date.now;
  const orgs = new Map<string, OrgEntry>();
  const orgOfRunner = new Map<string, string>();
  const byId = new Map<string, { at: number; rec: Promise<RunnerRecord | undefined> }>();

  const load = (orgId: string, entry: OrgEntry): Promise<void> => {
    entry.loading ??= (async () => {
      const started = now();
      entry.admitted = new Map();
      entry.invalidated = false;
      try {
        const records = await runnerRecords(o.db, { orgId });
        entry.records = records;
        entry.at = entry.invalidated ? 0 : started;
        for (const r of records) orgOfRunner.set(r.id, orgId);
      } catch (err) {
        o.logger.warn(
          { err, orgId },
          "reading the organisation's runners failed; placing with the last read",
        );
      } finally {
        entry.loading = undefined;
      }
    })();
    return entry.loading;
  };

  const entryFor = async (orgId: string, fresh: boolean): Promise<OrgEntry> => {
    if (fresh) {
      const known = orgs.get(orgId);
      if (known) {
        known.at = 0;
        known.invalidated = known.loading !== undefined;
      }
    }
    let entry = orgs.get(orgId);
    if (!entry) {
      entry = { at: 0, usedAt: now(), records: [], admitted: new Map() };
      orgs.set(orgId, entry);
      await load(orgId, entry);
    } else if (entry.at === 0) {
      await load(orgId, entry);
      // A read that was in flight when the entry was invalidated is too old: read once more.
      if (entry.at === 0) await load(orgId, entry);
    } else if (now() - entry.at > refreshMs) {
      void load(orgId, entry); // placement goes on with the last read meanwhile
    }
    entry.usedAt = now();
    return entry;
  };

  /** Held by a replica that refreshed it recently, and not marked unreachable. */
  const connectedElsewhere = (r: RunnerRecord) =>
    r.replica !== null &&
    r.replica !== o.replicaId &&
    r.unreachableSince === null &&
    now() - Date.parse(r.seenAt) <= o.staleMs;

  const snapshot = (r: RunnerRecord, admitted: Need | undefined, owners: Record<string, number>) => {
    const h = o.held(r.id);
    const report = h ? h.live : r.info;
    const add = admitted ?? { cpus: 0, memoryBytes: 0, diskBytes: 0, slots: 0 };
    const snap: RunnerSnapshot = {
      id: r.id,
      name: r.name ?? h?.name ?? r.id,
      orgIds: [r.orgId],
      labels: h ? (report.labels ?? {}) : r.labels,
      runtimes: [...report.runtimes],
      cordoned: r.schedule !== "active",
      connected: h ? h.remote.connected : connectedElsewhere(r),
      capacity: { ...r.capacity },
      allocated: {
        cpus: r.allocated.cpus + add.cpus,
        memoryBytes: r.allocated.memoryBytes + add.memoryBytes,
        diskBytes: r.allocated.diskBytes + add.diskBytes,
        slots: r.allocated.slots + add.slots,
      },
      usage: {
        cpuEwmaCores: report.usage?.cpuEwmaCores ?? 0,
        memoryWorkingSetBytes: report.usage?.memoryWorkingSetBytes ?? 0,
      },
      images: h ? [...h.images] : [...r.imageRefs],
      ownerEnvCounts: owners,
    };
    if (report.unschedulable) snap.unschedulable = report.unschedulable;
    return snap;
  };

  /** How many environments the owner has on each runner: one indexed count per placement. */
  // Counting an owner's environments walks all of them (5.8 ms at 10,000 on SQLite, on the event
  // loop): read once per refresh interval, and count this replica's own admissions on top.
  const ownerCache = new Map<string, { at: number; counts: Promise<Map<string, number>> }>();
  const cachedOwnerCounts = (orgId: string, ownerId: string): Promise<Map<string, number>> => {
    const key = `${orgId}\0${ownerId}`;
    const hit = ownerCache.get(key);
    if (hit && now() - hit.at <= refreshMs) return hit.counts;
    const counts = ownerCounts(orgId, ownerId);
    ownerCache.set(key, { at: now(), counts });
    counts.catch(() => ownerCache.delete(key));
    return counts;
  };
  const ownerCounts = async (orgId: string, ownerId: string): Promise<Map<string, number>> => {
    const rows = await o.db
      .selectFrom("environments")
      .select((eb) => ["runner_id", eb.fn.countAll<number>().as("n")])
      .where("org_id", "=", orgId)
      .where("owner_id", "=", ownerId)
      .groupBy("runner_id")
      .execute();
    return new Map(rows.map((r) => [r.runner_id, Number(r.n)]));
  };

  const timer = setInterval(() => {
    for (const [orgId, entry] of orgs) {
      if (now() - entry.usedAt > UNUSED_MS) orgs.delete(orgId);
      else if (now() - entry.at > refreshMs) void load(orgId, entry);
    }
    for (const [id, c] of byId) if (now() - c.at > refreshMs) byId.delete(id);
    for (const [key, c] of ownerCache) if (now() - c.at > refreshMs) ownerCache.delete(key);
  }, refreshMs);
  timer.unref();

  return {
    async snapshots(orgId, ownerId, opts) {
      const [entry, counts] = await Promise.all([
        entryFor(orgId, opts?.fresh === true),
        cachedOwnerCounts(orgId, ownerId),
      ]);
      return entry.records.map((r) =>
        snapshot(r, entry.admitted.get(r.id), { [ownerId]: counts.get(r.id) ?? 0 }),
      );
    },
    admitted(runnerId, need, ownerId) {
      const org = orgOfRunner.get(runnerId);
      const owned = org === undefined ? undefined : ownerCache.get(`${org}\0${ownerId}`);
      void owned?.counts.then((m) => m.set(runnerId, (m.get(runnerId) ?? 0) + 1));
      const orgId = orgOfRunner.get(runnerId);
      const entry = orgId === undefined ? undefined : orgs.get(orgId);
      if (!entry) return;
      const had = entry.admitted.get(runnerId) ?? { cpus: 0, memoryBytes: 0, diskBytes: 0, slots: 0 };
      entry.admitted.set(runnerId, {
        cpus: had.cpus + need.cpus,
        memoryBytes: had.memoryBytes + need.memoryBytes,
        diskBytes: had.diskBytes + need.diskBytes,
        slots: had.slots + 1,
      });
    },
    runner(runnerId) {
      const c = byId.get(runnerId);
      if (c && now() - c.at <= refreshMs) return c.rec;
      const rec = runnerRecords(o.db, { id: runnerId }).then((rows) => rows[0]);
      byId.set(runnerId, { at: now(), rec });
      rec.catch(() => byId.delete(runnerId));
      return rec;
    },
    invalidate(orgId) {
      const entry = orgs.get(orgId);
      if (entry) {
        entry.at = 0;
        entry.invalidated = entry.loading !== undefined;
      }
      for (const [id, org] of orgOfRunner) if (org === orgId) byId.delete(id);
    },
    close() {
      clearInterval(timer);
    },
  };
}
