// Admission of a new environment: place it on a runner (scheduler/), make sure the image is
// there, and admit it with one short transaction on that runner: claim the lowest free slot, lock
// the runner's capacity row only if the environment still fits, insert. No advisory lock: creates
// on different runners never wait on each other, and creates on one runner wait only for each
// other's insert. A runner that filled up since the snapshot is skipped for the next candidate.
// Names are unique by the table's constraint; a create that loses the race for a name is answered
// as if the other create had committed first (same spec: that environment; else NAME_CONFLICT).
import {
  type CreateEnvRequest,
  type EnvSpec,
  RUNTIMES,
  type RunnerApi,
  type RuntimeName,
  WarrenError,
} from "@warren/protocol";
import { type Clock, isoNow } from "../clock.ts";
import { embeddedFleetView, withCapacity } from "../scheduler/embedded-view.ts";
import { diskRatio, whyRejected } from "../scheduler/filter.ts";
import type { FleetView } from "../scheduler/fleet-view.ts";
import { placeEnvironment } from "../scheduler/place.ts";
import type { PlacementRequest, RejectedRunner, RunnerSnapshot } from "../scheduler/types.ts";
import type { Db } from "../store/db.ts";
import type { ClassRow } from "../store/queries/classes.ts";
import { type EnvRow, getEnvByName, insertEnv } from "../store/queries/envs.ts";
import {
  admitInOneStatement,
  claimFreeSlot,
  isNameTaken,
  isPostgresDb,
  lockCapacityIfFits,
  lockQuotaRow,
  recordDemand,
  runnerCapacities,
} from "../store/queries/fleet-admission.ts";
import { getQuotaRow, type QuotaRow } from "../store/queries/quotas.ts";
import type { SetupState } from "../store/queries/setups.ts";
import type { Actor } from "./actor.ts";
import { existingOutcome, unschedulableError } from "./env-admission-errors.ts";
import { imageMissing, resolveSpec } from "./env-spec.ts";
import type { ImageService } from "./images.ts";
import { checkOrgQuota, checkUserRunning } from "./quotas.ts";
import type { RunnerFor } from "./runner-for.ts";
import { actorOrg } from "./scope.ts";

/**
 * Candidates tried per create on snapshots alone. After a runner proves full, the others are
 * re-read from their rows, so later picks are current: the loop goes on only while some runner
 * still fits by its row (each failure drops one), and refuses only when none does.
 */
export const ADMISSION_ATTEMPTS = 3;

export interface EnvAdmissionOptions {
  db: Db;
  clock: Clock;
  defaultRuntime: RuntimeName;
  runnerFor: RunnerFor;
  /** The organisation's runners; default: the one runnerFor picks (embedded-view.ts). */
  fleet?: FleetView;
  /** The runner a placement chose, for its image; default: runnerFor's. */
  runnerById?: (runnerId: string) => Pick<RunnerApi, "hasImage" | "pullImage">;
  images?: Pick<ImageService, "ensureForEnv">;
}

export interface AdmitRequest {
  name: string;
  /** Generated and just seen free: not read again; a collision with a racing create is retried by the caller. */
  generatedName?: boolean;
  /** The name's organisation (scope.ts nameOrg) and the new row's owner. */
  org: string;
  own: { org_id: string; owner_id: string };
  req: CreateEnvRequest;
  cls: ClassRow | undefined;
  setup: SetupState | undefined;
  /** Builds the row once the runner and slot are known (environments.ts owns its columns). */
  row: (p: {
    spec: EnvSpec;
    runnerId: string;
    slot: number;
    placement: string;
    quota: QuotaRow | null;
  }) => EnvRow;
}

export type Admitted = { row: EnvRow; created: boolean };

export function createEnvAdmission(o: EnvAdmissionOptions) {
  const { db } = o;
  const fleetFor = (a: Actor): FleetView => {
    if (o.fleet) return o.fleet;
    return embeddedFleetView({ db, infoFor: () => o.runnerFor(actorOrg(a)).info() });
  };
  const runnerById = (a: Actor, id: string) => o.runnerById?.(id) ?? o.runnerFor(actorOrg(a));

  /**
   * No runner connected: the create is demand all the same (what it would need, on any runtime),
   * recorded before `err` is thrown. A request that is wrong in itself (a size out of bounds, a
   * class's limits) is no demand: its own error says what to fix, which no runner would change.
   */
  const noRunner = async (r: AdmitRequest, err: unknown): Promise<never> => {
    if (!(err instanceof WarrenError) || err.code !== "RUNNER_UNAVAILABLE") throw err;
    const { resources } = resolveSpec({
      name: r.name,
      req: r.req,
      cls: r.cls,
      info: { runtimes: [...RUNTIMES] },
      defaultRuntime: o.defaultRuntime,
    });
    const { cpus, memoryBytes, diskBytes } = resources;
    // The answer is the missing runner: a store failure while recording must not hide it.
    await recordDemand(db, {
      orgId: r.own.org_id,
      need: { cpus, memoryBytes, diskBytes },
      at: isoNow(o.clock),
    }).catch(() => undefined);
    throw err;
  };

  return async function admit(a: Actor, r: AdmitRequest): Promise<Admitted> {
    const fleet = fleetFor(a);
    let snapshots = await fleet.snapshots(r.own.org_id, r.own.owner_id);
    const connected = snapshots.filter((s) => s.connected);
    // With no runner connected the runner-for answer says so (RUNNER_UNAVAILABLE and its fix),
    // and the create is demand all the same: an autoscaler with no runner yet starts one for it.
    const runtimes = connected.length
      ? [...new Set(connected.flatMap((s) => s.runtimes))]
      : (
          await o
            .runnerFor(actorOrg(a))
            .info()
            .catch((err: unknown) => noRunner(r, err))
        ).runtimes;
    const spec = resolveSpec({
      name: r.name,
      req: r.req,
      cls: r.cls,
      info: { runtimes },
      defaultRuntime: o.defaultRuntime,
    });

    const existing = r.generatedName ? undefined : await getEnvByName(db, r.name, r.org);
    if (existing) return existingOutcome(db, a, existing, spec, r.setup);

    const quota = (await getQuotaRow(db, r.own.org_id)) ?? null;
    const limited = quota !== null && hasLimits(quota);
    const need = {
      cpus: spec.resources.cpus,
      memoryBytes: spec.resources.memoryBytes,
      diskBytes: spec.resources.diskBytes,
    };
    // Quotas before host capacity: a refusal should name what the user can change.
    if (limited) await checkQuotas(db, r.own, need, quota);

    const placement: PlacementRequest = {
      envId: "",
      orgId: r.own.org_id,
      ownerId: r.own.owner_id,
      image: spec.image,
      runtime: spec.runtime,
      resources: need,
      requiredLabels: parseLabels(r.cls?.required_labels),
      overcommit: {
        cpu: r.cls?.cpu_overcommit ?? 4,
        memory: r.cls?.memory_overcommit ?? 1,
        disk: diskRatio(r.cls?.disk_overcommit),
      },
    };
    const oneStatement = isPostgresDb(db);
    const ratio = placement.overcommit;
    /** Without quotas to check, PostgreSQL admits in one statement (fleet-admission.ts). */
    const admitOnPostgres = async (runnerId: string, explanation: string): Promise<EnvRow | undefined> => {
      const made = r.row({ spec, runnerId, slot: 0, placement: explanation, quota });
      const slot = await admitInOneStatement(db, { runnerId, need, ratio, row: { ...made, ...r.own } });
      return slot === undefined ? undefined : { ...made, slot };
    };
    const raced: RejectedRunner[] = [];
    let candidates: RunnerSnapshot[] = snapshots;
    let reread = false;
    const tries = Math.max(ADMISSION_ATTEMPTS, snapshots.length);
    for (let attempt = 0; attempt < tries; attempt++) {
      const decision = placeEnvironment(placement, candidates);
      // A view from memory does not yet see environments deleted meanwhile: before refusing,
      // decide once more on a fresh read (runners/fleet-cache.ts; the embedded view is always fresh).
      if (decision.kind === "unschedulable" && !reread && raced.length === 0) {
        reread = true;
        snapshots = candidates = await fleet.snapshots(r.own.org_id, r.own.owner_id, { fresh: true });
        attempt--;
        continue;
      }
      if (decision.kind === "unschedulable") {
        await recordDemand(db, { orgId: r.own.org_id, need, at: isoNow(o.clock) });
        throw unschedulableError(r.name, need, [...raced, ...decision.rejected], snapshots, ratio.disk);
      }
      const runnerId = decision.runnerId;
      // A prebuild's image (maybe built for it) was checked on the runner by the match.
      const host = runnerById(a, runnerId);
      if (o.images && !r.setup?.fromPrebuild) await o.images.ensureForEnv(a, spec.image, host);
      else if (!(await host.hasImage(spec.image))) throw imageMissing(spec.image);
      let row: EnvRow | undefined;
      try {
        row =
          oneStatement && !limited
            ? await admitOnPostgres(runnerId, decision.explanation)
            : await db.transaction().execute(async (trx) => {
                const slot = await claimFreeSlot(trx, runnerId);
                if (slot === undefined) return undefined;
                if (!(await lockCapacityIfFits(trx, runnerId, need, ratio))) return undefined;
                let q = quota;
                if (limited) {
                  await lockQuotaRow(trx, r.own.org_id);
                  q = (await getQuotaRow(trx, r.own.org_id)) ?? null;
                  await checkQuotas(trx, r.own, need, q);
                }
                const made = r.row({ spec, runnerId, slot, placement: decision.explanation, quota: q });
                await insertEnv(trx, made, r.own);
                return made;
              });
      } catch (err) {
        if (!isNameTaken(err)) throw err;
        if (r.generatedName)
          throw new WarrenError(
            "INTERNAL",
            "a generated environment name was taken meanwhile; retry, or pass --name",
          );
        const winner = await getEnvByName(db, r.name, r.org);
        if (!winner) throw err;
        return existingOutcome(db, a, winner, spec, r.setup);
      }
      if (row) {
        fleet.admitted(runnerId, need, r.own.owner_id);
        return { row, created: true };
      }
      // The snapshots were stale (other replicas admitted meanwhile): the next candidate is
      // chosen from what the rows say now, and the full runner's reason is its row's.
      const rows = await runnerCapacities(
        db,
        candidates.map((c) => c.id),
      );
      const fresh = (c: RunnerSnapshot) => {
        const now = rows.get(c.id);
        return now ? withCapacity(c, now) : c;
      };
      candidates = candidates.map(fresh);
      // A refusal then names what the rows say now, not the figures this create started from.
      snapshots = snapshots.map(fresh);
      const was = candidates.find((c) => c.id === runnerId) as RunnerSnapshot;
      raced.push({
        runnerName: decision.runnerName,
        why: whyRejected(placement, was) ?? "filled up by concurrent creates",
      });
      candidates = candidates.filter((c) => c.id !== runnerId);
    }
    await recordDemand(db, { orgId: r.own.org_id, need, at: isoNow(o.clock) });
    throw unschedulableError(r.name, need, raced, snapshots, ratio.disk);
  };
}

function hasLimits(q: QuotaRow): boolean {
  return q.cpus !== null || q.memory_bytes !== null || q.disk_bytes !== null || q.user_max_running !== null;
}

async function checkQuotas(
  db: Parameters<typeof checkOrgQuota>[0],
  own: { org_id: string; owner_id: string },
  need: { cpus: number; memoryBytes: number; diskBytes: number },
  quota: QuotaRow | null,
): Promise<void> {
  await checkOrgQuota(db, own.org_id, need, undefined, quota);
  await checkUserRunning(db, own.org_id, own.owner_id, quota);
}

/** A class's required labels (a JSON object column); anything else requires none. */
export function parseLabels(json: string | undefined): Record<string, string> {
  if (!json) return {};
  try {
    const v = JSON.parse(json) as unknown;
    if (!v || typeof v !== "object" || Array.isArray(v)) return {};
    return Object.fromEntries(
      Object.entries(v).filter((e): e is [string, string] => typeof e[1] === "string"),
    );
  } catch {
    return {};
  }
}
