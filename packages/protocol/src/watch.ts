// Wire types for paged lists and the environment watch (Server-Sent Events).
//
//   GET /api/v1/environments?limit=&cursor=&state=&name=   -> EnvPage
//       Stable order (created_at, id); `cursor` is opaque (pass back `nextCursor`); `name` is a
//       prefix filter; without `limit` a page holds DEFAULT_PAGE_LIMIT items.
//   GET /api/v1/environments?watch=1[&resourceVersion=N]   -> text/event-stream
//       Without a version: one ADDED per existing environment, then a BOOKMARK (the initial list
//       is complete), then changes. With `resourceVersion=N` or a `Last-Event-ID: N` header: every
//       change after N, none twice. Each event is `event: TYPE`, `id: <resourceVersion>`,
//       `data: <JSON WatchEvent>`. A version older than the retained history gets
//       410 WATCH_EXPIRED: list again and watch from there.
import type { Environment, EnvState } from "./env.ts";

export const DEFAULT_PAGE_LIMIT = 100;
export const MAX_PAGE_LIMIT = 500;

export interface EnvPage {
  items: Environment[];
  /** Present when more items follow; pass it back as `cursor`. */
  nextCursor?: string;
}

export interface EnvListQuery {
  limit?: number;
  cursor?: string;
  state?: EnvState;
  /** Name prefix. */
  name?: string;
  /** Only environments of this repository (any spelling normalizeProject() accepts). */
  project?: string;
}

export type WatchEventType = "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK";

export interface WatchEvent {
  type: WatchEventType;
  /** The resource version of this change; resume a watch from it. */
  resourceVersion: number;
  /** The environment as of this change (as last seen, for DELETED); absent for BOOKMARK. */
  object?: Environment;
}
