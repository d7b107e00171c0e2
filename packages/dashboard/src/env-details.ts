// What the watch does not carry, fetched beside it. The watch's objects are the stored rows:
// they have no `observed` (the runner's live view, where the IP is), and last activity and the
// idle deadline are written without a watch event (a busy terminal must not flood every watcher).
// So the live list also reads:
// - `GET /api/v1/environments/{id}` once per run of each running environment, for `observed`;
// - `GET /api/v1/environments` every few seconds, for `idle` (last activity, stop deadline);
// - `GET /api/v1/stats` every few seconds, for CPU, memory and disk in use.
import { api, apiFetch, type Environment, type Schemas, unwrap } from "./api.ts";

export type EnvStats = Schemas["EnvStats"];
export type EnvObserved = NonNullable<Environment["observed"]>;
export type EnvIdle = NonNullable<Environment["idle"]>;

/** A row's idle view, tagged with the row version it was read at. */
export interface IdleRead {
  updatedAt: string;
  idle: EnvIdle;
}

/**
 * The watch's object with what was fetched beside it; pure, for tests. `observed` counts only
 * while the watch says it runs (a stopped one has no IP); `idle` only if it was read from the
 * same row version (updatedAt moves with every intent or state change, never with activity), so
 * a list read before a stop cannot bring back the deadline the stop cleared.
 */
export function mergeDetails(
  env: Environment,
  observed: EnvObserved | undefined,
  idle: IdleRead | undefined,
): Environment {
  let out = env;
  if (observed && env.state === "running" && !env.observed) out = { ...out, observed };
  if (idle && idle.updatedAt === env.updatedAt) out = { ...out, idle: idle.idle };
  return out;
}

export async function fetchStats(signal: AbortSignal): Promise<Map<string, EnvStats>> {
  const res = await apiFetch("/api/v1/stats", { signal });
  const body = (await res.json()) as { items: EnvStats[] };
  return new Map(body.items.map((s) => [s.id, s]));
}

/** Every environment's idle view, by id (all pages). */
export async function fetchIdle(signal: AbortSignal): Promise<Map<string, IdleRead>> {
  const out = new Map<string, IdleRead>();
  let cursor: string | undefined;
  for (let page = 0; page < 20; page++) {
    const body = await unwrap(
      api.GET("/api/v1/environments", {
        params: { query: { limit: 500, ...(cursor ? { cursor } : {}) } },
        signal,
      }),
    );
    // The typed answer also allows the watch's text/event-stream; without watch=1 it is JSON.
    if (typeof body === "string") break;
    for (const e of body.items) if (e.idle) out.set(e.id, { updatedAt: e.updatedAt, idle: e.idle });
    cursor = body.nextCursor;
    if (!cursor) break;
  }
  return out;
}

/** One environment as the runner sees it now (by id, so a rename cannot mix two up). */
export async function fetchObserved(id: string, signal: AbortSignal): Promise<Environment> {
  return unwrap(api.GET("/api/v1/environments/{name}", { params: { path: { name: id } }, signal }));
}
