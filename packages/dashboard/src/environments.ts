// The environments the caller can see, kept live from the SSE watch
// (GET /api/v1/environments?watch=1): one stream for the whole page, shared by every view. After
// a network blip it resumes from the last event's resource version, so no change is missed or
// seen twice; when that version is too old (WATCH_EXPIRED) it lists again from scratch. Beside
// it, a details loop fills in what the watch does not carry (env-details.ts): usage, the IP, last
// activity and the idle deadline.
import { useEffect, useState } from "preact/hooks";
import { ApiError, apiFetch, type Environment } from "./api.ts";
import {
  type EnvObserved,
  type EnvStats,
  fetchIdle,
  fetchObserved,
  fetchStats,
  type IdleRead,
  mergeDetails,
} from "./env-details.ts";
import { readSse } from "./sse.ts";

export type { EnvStats } from "./env-details.ts";

export interface EnvironmentsState {
  /** The watch's environments (by id), with the details fetched beside it merged in. */
  items: Map<string, Environment>;
  /** The initial list has arrived (the watch's first BOOKMARK). */
  synced: boolean;
  /** Why the stream is down, while it reconnects. */
  error: string | undefined;
  stats: Map<string, EnvStats>;
}

type WatchData = { type: string; resourceVersion: number; object?: Environment };

const RETRY_MS = 1000;
const DETAILS_MS = 5000;

let state: EnvironmentsState = { items: new Map(), synced: false, error: undefined, stats: new Map() };
const listeners = new Set<(s: EnvironmentsState) => void>();
let running: AbortController | undefined;
/** The watch's own objects; `state.items` is these with the details merged in. */
let watched = new Map<string, Environment>();
/** `observed` of running environments, read once per run (cleared when one stops running). */
const observed = new Map<string, EnvObserved>();
let idle = new Map<string, IdleRead>();
let wakeDetails: (() => void) | undefined;
/** A refresh was asked for while a pass ran: run another right after it. */
let detailsAgain = false;

function publish(next: Partial<EnvironmentsState>): void {
  state = { ...state, ...next };
  for (const l of listeners) l(state);
}

function mergedItems(): Map<string, Environment> {
  const out = new Map<string, Environment>();
  for (const [id, env] of watched) out.set(id, mergeDetails(env, observed.get(id), idle.get(id)));
  return out;
}

/** A new watch view: forget what no longer applies, and fetch details for new runs now. */
function setWatched(next: Map<string, Environment>, extra: Partial<EnvironmentsState> = {}): void {
  watched = next;
  let newRun = false;
  for (const id of observed.keys()) if (watched.get(id)?.state !== "running") observed.delete(id);
  for (const env of watched.values()) if (env.state === "running" && !observed.has(env.id)) newRun = true;
  publish({ ...extra, items: mergedItems() });
  if (newRun) refreshDetails();
}

/** Applies one watch event to a map of environments (by id); pure, for tests. */
export function applyWatchEvent(items: Map<string, Environment>, ev: WatchData): Map<string, Environment> {
  if (!ev.object) return items;
  const next = new Map(items);
  if (ev.type === "DELETED") next.delete(ev.object.id);
  else next.set(ev.object.id, ev.object);
  return next;
}

async function watchLoop(signal: AbortSignal): Promise<void> {
  let resume: string | undefined;
  while (!signal.aborted) {
    try {
      const q = resume === undefined ? "" : `&resourceVersion=${encodeURIComponent(resume)}`;
      const res = await apiFetch(`/api/v1/environments?watch=1${q}`, {
        signal,
        headers: { Accept: "text/event-stream" },
      });
      // A fresh list replaces what we had: deletions while we were away are not replayed.
      let pending: Map<string, Environment> | undefined = resume === undefined ? new Map() : undefined;
      const parser = await readSse(
        res,
        (e) => {
          if (e.event === "ERROR") {
            const body = JSON.parse(e.data) as { code: string; message: string };
            throw new ApiError(body.code === "UNAUTHENTICATED" ? 401 : 410, body);
          }
          const ev = JSON.parse(e.data) as WatchData;
          if (ev.type === "BOOKMARK") {
            if (pending) setWatched(pending, { synced: true, error: undefined });
            pending = undefined;
            return;
          }
          if (pending) pending = applyWatchEvent(pending, ev);
          else setWatched(applyWatchEvent(watched, ev), { error: undefined });
        },
        signal,
      );
      resume = parser.lastId ?? resume;
    } catch (err) {
      if (signal.aborted) return;
      if (err instanceof ApiError && err.status === 401) return; // api.ts tells the app to sign in again
      if (err instanceof ApiError && err.code === "WATCH_EXPIRED") resume = undefined;
      publish({ error: err instanceof Error ? err.message : String(err) });
    }
    await new Promise((r) => setTimeout(r, RETRY_MS));
  }
}

/** One pass of the details; each part may fail alone (a runner that cannot answer leaves blanks). */
async function detailsPass(signal: AbortSignal): Promise<void> {
  const runs = [...watched.values()].filter((e) => e.state === "running" && !observed.has(e.id));
  const [stats, idleRead] = await Promise.all([
    fetchStats(signal).catch(() => undefined),
    fetchIdle(signal).catch(() => undefined),
    ...runs.map(async (env) => {
      const got = await fetchObserved(env.id, signal).catch(() => undefined);
      // Kept for the run it was read in (the address does not change while it runs).
      if (
        !signal.aborted &&
        got?.id === env.id &&
        got.observed?.state === "running" &&
        watched.get(env.id)?.state === "running"
      )
        observed.set(env.id, got.observed);
    }),
  ]);
  if (signal.aborted) return;
  if (idleRead) idle = idleRead;
  publish({ items: mergedItems(), ...(stats ? { stats } : {}) });
}

async function detailsLoop(signal: AbortSignal): Promise<void> {
  while (!signal.aborted) {
    detailsAgain = false;
    await detailsPass(signal);
    if (detailsAgain) continue;
    await new Promise<void>((r) => {
      const t = setTimeout(() => wake(), DETAILS_MS);
      const wake = () => {
        clearTimeout(t);
        if (wakeDetails === wake) wakeDetails = undefined;
        r();
      };
      wakeDetails = wake;
    });
  }
}

/** Reads usage, IPs and idle times now instead of at the next tick (a new run, a page shown). */
export function refreshDetails(): void {
  if (wakeDetails) wakeDetails();
  else detailsAgain = true;
}

/** Starts the shared watch (idempotent); stop() ends it, e.g. on sign-out. */
export function startEnvironments(): void {
  if (running) return;
  running = new AbortController();
  void watchLoop(running.signal);
  void detailsLoop(running.signal);
}
export function stopEnvironments(): void {
  running?.abort();
  running = undefined;
  wakeDetails?.();
  watched = new Map();
  observed.clear();
  idle = new Map();
  state = { items: new Map(), synced: false, error: undefined, stats: new Map() };
}

export function useEnvironments(): EnvironmentsState {
  const [s, set] = useState(state);
  useEffect(() => {
    startEnvironments();
    listeners.add(set);
    set(state);
    return () => void listeners.delete(set);
  }, []);
  return s;
}

/** One environment by name, live. */
export function useEnvironment(name: string): { env: Environment | undefined; synced: boolean } {
  const s = useEnvironments();
  for (const e of s.items.values()) if (e.name === name) return { env: e, synced: s.synced };
  return { env: undefined, synced: s.synced };
}
