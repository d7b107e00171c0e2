// Usage reports (`warren usage`, GET /api/v1/usage): allocation over time from the control plane's
// own record (migration 029's intervals), with the runners' sampled CPU beside it. Who sees what:
// a member their own environments, an admin or owner their organisation's, the operator (an
// admin or owner of the server's first organisation, or root on the local socket) and the system
// every organisation's. A runner sees nothing.
import {
  NO_PROJECT,
  type UsageBy,
  type UsageQuery,
  type UsageReport,
  type UsageRow,
  usageWindow,
} from "@warren/protocol";
import type { Clock } from "../clock.ts";
import { BOOTSTRAP_ORG_ID } from "../store/migrations/005_identity.ts";
import type { Queryable } from "../store/queries/envs.ts";
import { namesOf, type UsageFilter, type UsageSums, usageSums } from "../store/queries/usage.ts";
import { type Actor, requireActor } from "./actor.ts";
import { isAdmin } from "./identity.ts";
import { requireAdmin } from "./scope.ts";

export interface UsageService {
  report(a: Actor, q: UsageQuery): Promise<UsageReport>;
}

const GIB_HOUR = 2 ** 30 * 3_600_000;
const round = (n: number, digits: number) => Math.round(n * 10 ** digits) / 10 ** digits;

/** What an actor's report is limited to. */
export function usageScope(a: Actor): Pick<UsageFilter, "orgId" | "ownerId"> {
  const actor = requireActor(a, "reading usage");
  if (actor.kind !== "user") {
    // The system passes and sees everything; a runner is refused (FORBIDDEN).
    requireAdmin(actor, "reading usage");
    return {};
  }
  if (!isAdmin(actor)) return { orgId: actor.orgId, ownerId: actor.userId };
  return actor.orgId === BOOTSTRAP_ORG_ID ? {} : { orgId: actor.orgId };
}

export function createUsageService(o: { db: Queryable; clock: Clock }): UsageService {
  async function keyOf(by: UsageBy, sums: UsageSums[]): Promise<(group: string | null) => string> {
    const ids = sums.map((s) => s.group).filter((g) => g !== null);
    if (by === "user" || by === "org") {
      const names = await namesOf(o.db, by === "user" ? "users" : "orgs", ids);
      return (g) => (g === null ? "" : (names.get(g) ?? g));
    }
    return (g) => (g === null ? NO_PROJECT : g);
  }

  return {
    async report(a, q) {
      const scope = usageScope(a);
      const now = o.clock.now();
      const { since, until, by } = usageWindow(q, now);
      const sums = await usageSums(o.db, { since, until, now, by, ...scope });
      const key = await keyOf(by, sums);
      const rows: UsageRow[] = sums.map((s) => ({
        key: key(s.group),
        envSeconds: round(s.runMs / 1000, 3),
        cpuSeconds: round(s.cpuMs / 1000, 3),
        memoryGiBHours: round(s.memoryByteMs / GIB_HOUR, 6),
        diskGiBHours: round(s.diskByteMs / GIB_HOUR, 6),
        measuredCpuSeconds: round(s.measuredCpuMs / 1000, 3),
      }));
      rows.sort(
        (x, y) => y.cpuSeconds - x.cpuSeconds || y.diskGiBHours - x.diskGiBHours || (x.key < y.key ? -1 : 1),
      );
      return { since: new Date(since).toISOString(), until: new Date(until).toISOString(), by, rows };
    },
  };
}
