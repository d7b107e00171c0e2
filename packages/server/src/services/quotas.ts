// Quotas: per organisation, total cpus, memory and disk over its environments that are not
// deleted; per user, how many environments may be running. NULL (or no row) is unlimited, so
// nothing is limited until an admin sets a quota.
//
// Checks run where the intent changes (create, start, resize), inside the caller's transaction
// where there is one, and the refusal names the quota, the usage, the ask and the excess.

import { formatSize, parseSize, type QuotaView, type SetQuotasRequest, WarrenError } from "@warren/protocol";
import { type Clock, isoNow } from "../clock.ts";
import type { Db } from "../store/db.ts";
import type { Queryable } from "../store/queries/envs.ts";
import { getOrg } from "../store/queries/identity.ts";
import {
  countRunning,
  getQuotaRow,
  orgUsage,
  type QuotaRow,
  upsertQuotaRow,
} from "../store/queries/quotas.ts";
import { type Actor, requireActor } from "./actor.ts";
import { idleTimeoutArg } from "./idle-settings.ts";
import { POOL_OWNER_ID } from "./pool-owner.ts";
import { requireAdmin } from "./scope.ts";
import { maxTokenDays } from "./tokens.ts";

/** What an environment asks for; a field left out is not checked (a resize never changes disk). */
export interface ResourceAsk {
  cpus?: number;
  memoryBytes?: number;
  diskBytes?: number;
}

const raise = "or ask an admin to raise it";

function over(what: string, limit: string, used: string, ask: string, excess: string, fix: string) {
  return new WarrenError(
    "QUOTA_EXCEEDED",
    `organisation ${what} quota is ${limit}; ${used} in use and this environment asks for ${ask} (${excess} over); ${fix}, ${raise}`,
    { quota: what },
  );
}

/** A quota row already read in this transaction (null: the organisation has none). */
type Prefetched = QuotaRow | null | undefined;
const quotaRow = async (db: Queryable, orgId: string, pre: Prefetched) =>
  pre === undefined ? await getQuotaRow(db, orgId) : (pre ?? undefined);

/** Refuses `ask` when it takes the organisation past a quota; `exceptId` excludes a resized env. */
export async function checkOrgQuota(
  db: Queryable,
  orgId: string,
  ask: ResourceAsk,
  exceptId?: string,
  pre?: Prefetched,
): Promise<void> {
  const q = await quotaRow(db, orgId, pre);
  if (!q || (q.cpus === null && q.memory_bytes === null && q.disk_bytes === null)) return;
  const used = await orgUsage(db, orgId, exceptId);
  const fix = "stop or resize environments";
  if (q.cpus !== null && ask.cpus !== undefined && used.cpus + ask.cpus > q.cpus) {
    const n = (x: number) => String(Math.round(x * 1000) / 1000);
    const excess = used.cpus + ask.cpus - q.cpus;
    throw over("cpu", `${n(q.cpus)} cpus`, `${n(used.cpus)} are`, n(ask.cpus), n(excess), fix);
  }
  const mem = ask.memoryBytes;
  if (q.memory_bytes !== null && mem !== undefined && used.memoryBytes + mem > q.memory_bytes) {
    const excess = used.memoryBytes + mem - q.memory_bytes;
    const f = formatSize;
    throw over("memory", f(q.memory_bytes), `${f(used.memoryBytes)} is`, f(mem), f(excess), fix);
  }
  const disk = ask.diskBytes;
  if (q.disk_bytes !== null && disk !== undefined && used.diskBytes + disk > q.disk_bytes) {
    const excess = used.diskBytes + disk - q.disk_bytes;
    const f = formatSize;
    throw over("disk", f(q.disk_bytes), `${f(used.diskBytes)} is`, f(disk), f(excess), "remove environments");
  }
}

/** Refuses one more running environment for `ownerId` past the organisation's per-user quota. */
export async function checkUserRunning(
  db: Queryable,
  orgId: string,
  ownerId: string,
  pre?: Prefetched,
): Promise<void> {
  // The warm pool is no user: its members' number is the pool's own maximum.
  if (ownerId === POOL_OWNER_ID) return;
  const q = await quotaRow(db, orgId, pre);
  if (!q || q.user_max_running === null) return;
  const running = await countRunning(db, orgId, ownerId);
  if (running + 1 > q.user_max_running) {
    throw new WarrenError(
      "QUOTA_EXCEEDED",
      `per-user running environment quota is ${q.user_max_running}; ${running} of yours are running and this would start 1 more (${running + 1 - q.user_max_running} over); stop an environment, ${raise}`,
      { quota: "userMaxRunning" },
    );
  }
}

export interface QuotaService {
  get(a: Actor, org: string): Promise<QuotaView>;
  set(a: Actor, org: string, req: SetQuotasRequest): Promise<QuotaView>;
}

export function createQuotaService(o: { db: Db; clock: Clock }): QuotaService {
  const { db } = o;

  /** The organisation's id; the system manages any organisation, an admin only their own. */
  async function orgFor(a: Actor, org: string): Promise<string> {
    const actor = requireActor(a, "managing quotas");
    const row = await getOrg(db, org);
    // Another organisation's name or id is "not found", never "forbidden".
    if (!row || (actor.kind !== "system" && row.id !== actor.orgId))
      throw new WarrenError("NOT_FOUND", `organisation "${org}" does not exist`);
    requireAdmin(actor, "managing quotas");
    return row.id;
  }

  async function view(orgId: string): Promise<QuotaView> {
    const q = await getQuotaRow(db, orgId);
    return {
      quotas: {
        cpus: q?.cpus ?? null,
        memoryBytes: q?.memory_bytes ?? null,
        diskBytes: q?.disk_bytes ?? null,
        userMaxRunning: q?.user_max_running ?? null,
        tokenMaxDays: q?.token_max_days ?? null,
        maxIdleTimeoutSeconds: q?.max_idle_timeout_s ?? null,
        publicPorts: q?.public_ports === "allow" ? "allow" : "deny",
      },
      usage: await orgUsage(db, orgId),
    };
  }

  return {
    async get(a, org) {
      return view(await orgFor(a, org));
    },
    async set(a, org, req) {
      const orgId = await orgFor(a, org);
      const cur = await getQuotaRow(db, orgId);
      const row: QuotaRow = {
        org_id: orgId,
        cpus: pick(req.cpus, cur?.cpus, (v) => positive("cpus", v)),
        memory_bytes: pick(req.memory, cur?.memory_bytes, (v) => parseSize(v, "memory")),
        disk_bytes: pick(req.disk, cur?.disk_bytes, (v) => parseSize(v, "disk")),
        user_max_running: pick(req.userMaxRunning, cur?.user_max_running, (v) => count(v)),
        token_max_days: pick(req.tokenMaxDays, cur?.token_max_days, (v) => tokenDays(v)),
        // "never" clears the maximum like null does.
        max_idle_timeout_s: pick(req.maxIdleTimeout, cur?.max_idle_timeout_s, (v) =>
          idleTimeoutArg(v, "maxIdleTimeout"),
        ),
        // Ports (services/ports.ts): null resets to the default, deny.
        public_ports:
          req.publicPorts === undefined ? (cur?.public_ports ?? null) : publicPorts(req.publicPorts),
        updated_at: isoNow(o.clock),
      };
      await upsertQuotaRow(db, row);
      return view(orgId);
    },
  };
}

/** null clears (unlimited), undefined keeps the current value, anything else is parsed. */
function pick<T>(v: T | null | undefined, cur: number | null | undefined, parse: (v: T) => number | null) {
  if (v === null) return null;
  if (v === undefined) return cur ?? null;
  return parse(v);
}

function publicPorts(v: string | null): "allow" | "deny" | null {
  if (v === null || v === "allow" || v === "deny") return v;
  throw new WarrenError("INVALID_ARGUMENT", `publicPorts "${v}" must be "allow" or "deny"`, {
    field: "publicPorts",
  });
}

function positive(field: string, n: number): number {
  if (!(n > 0) || !Number.isFinite(n))
    throw new WarrenError("INVALID_ARGUMENT", `${field} quota ${n} must be greater than zero`, { field });
  return n;
}

function tokenDays(n: number): number {
  const server = maxTokenDays();
  if (!Number.isInteger(n) || n < 1 || n > server) {
    throw new WarrenError(
      "INVALID_ARGUMENT",
      `tokenMaxDays ${n} must be a whole number of days from 1 to ${server} (the server's maximum, WARREN_TOKEN_MAX_DAYS)`,
      { field: "tokenMaxDays", max: server },
    );
  }
  return n;
}

function count(n: number): number {
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new WarrenError("INVALID_ARGUMENT", `userMaxRunning ${n} must be a whole number >= 0`, {
      field: "userMaxRunning",
    });
  }
  return n;
}
