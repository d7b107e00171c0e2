// The environments the caller can see, kept live from the SSE watch
// (GET /api/v1/environments?watch=1): one stream for the whole page, shared by every view. After
// a network blip it resumes from the last event's resource version, so no change is missed or
// seen twice; when that version is too old (WATCH_EXPIRED) it lists again from scratch.
import { useEffect, useState } from "preact/hooks";
import { ApiError, apiFetch, type Environment, type Schemas } from "./api.ts";
import { readSse } from "./sse.ts";

export type EnvStats = Schemas["EnvStats"];

export interface EnvironmentsState {
  items: Map<string, Environment>;
  /** The initial list has arrived (the watch's first BOOKMARK). */
  synced: boolean;
  /** Why the stream is down, while it reconnects. */
  error: string | undefined;
  stats: Map<string, EnvStats>;
}

type WatchData = { type: string; resourceVersion: number; object?: Environment };

const RETRY_MS = 1000;
const STATS_MS = 5000;

let state: EnvironmentsState = { items: new Map(), synced: false, error: undefined, stats: new Map() };
const listeners = new Set<(s: EnvironmentsState) => void>();
let running: AbortController | undefined;

function publish(next: Partial<EnvironmentsState>): void {
  state = { ...state, ...next };
  for (const l of listeners) l(state);
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
            if (pending) publish({ items: pending, synced: true, error: undefined });
            pending = undefined;
            return;
          }
          if (pending) pending = applyWatchEvent(pending, ev);
          else publish({ items: applyWatchEvent(state.items, ev), error: undefined });
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

async function statsLoop(signal: AbortSignal): Promise<void> {
  while (!signal.aborted) {
    try {
      const res = await apiFetch("/api/v1/stats", { signal });
      const body = (await res.json()) as { items: EnvStats[] };
      publish({ stats: new Map(body.items.map((s) => [s.id, s])) });
    } catch {
      // Stats are a nice-to-have beside the list: a runner that cannot answer leaves them blank.
    }
    await new Promise((r) => setTimeout(r, STATS_MS));
  }
}

/** Starts the shared watch (idempotent); stop() ends it, e.g. on sign-out. */
export function startEnvironments(): void {
  if (running) return;
  running = new AbortController();
  void watchLoop(running.signal);
  void statsLoop(running.signal);
}
export function stopEnvironments(): void {
  running?.abort();
  running = undefined;
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
