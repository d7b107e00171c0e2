// Reads of environments that the HTTP edge used to do itself: the paged list, the console log and
// exec. Each resolves the environment as the actor sees it (an invisible one is ENV_NOT_FOUND)
// before anything reaches the store's page query or the runner.
import type { Duplex } from "node:stream";
import {
  DEFAULT_PAGE_LIMIT,
  type EnvPage,
  type EnvState,
  type ExecHandlers,
  type ExecRequest,
  type ExecSession,
  type LogStream,
  NAME_RE,
  normalizeProject,
  type RunnerExec,
  type RunnerStreams,
  WarrenError,
} from "@warren/protocol";
import type { Db } from "../store/db.ts";
import { listEnvPage } from "../store/queries/env-pages.ts";
import { type EnvRow, toEnvironment } from "../store/queries/envs.ts";
import type { Actor } from "./actor.ts";
import { runnerIdsOf, withRunnerRefs } from "./env-runner-refs.ts";
import { actorOrg, canSeeEnv } from "./scope.ts";
import { withSetupDefaults } from "./setup-exec.ts";

export type LogOptions = Parameters<RunnerExec["logs"]>[1];

/** A page request: filters and the opaque cursor from the previous page. */
export interface EnvPageRequest {
  limit?: number;
  cursor?: string;
  state?: EnvState;
  /** A name prefix. */
  name?: string;
  project?: string;
}

export interface EnvReadOps {
  /** One page of the environments the actor may see, oldest first. */
  page(a: Actor, q: EnvPageRequest): Promise<EnvPage>;
  /** The console log; `onData` gets each chunk (masked by services/secret-delivery.ts). */
  logs(a: Actor, nameOrId: string, opts: LogOptions, onData: (chunk: string) => void): Promise<LogStream>;
  /** A command in a running environment. */
  exec(a: Actor, nameOrId: string, req: ExecRequest, h: ExecHandlers): Promise<ExecSession>;
  /** A TCP connection to `host:port` made inside a running environment's network namespace. */
  dial(a: Actor, nameOrId: string, port: number, host?: string): Promise<Duplex>;
}

export interface EnvReadDeps {
  db: Db;
  runner: RunnerExec & RunnerStreams;
  find(a: Actor, nameOrId: string): Promise<EnvRow>;
  requireRunning(a: Actor, nameOrId: string): Promise<EnvRow>;
  /** Resolves true once the environment's row is gone (false when `signal` aborts first). */
  untilGone?(id: string, signal: AbortSignal): Promise<boolean>;
}

// The cursor is opaque to clients (base64url JSON) so its shape can change without an API change.
export function encodeCursor(createdAt: string, id: string): string {
  return Buffer.from(JSON.stringify([createdAt, id])).toString("base64url");
}

export function decodeCursor(cursor: string): { createdAt: string; id: string } {
  try {
    const v = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) as unknown;
    if (Array.isArray(v) && v.length === 2 && typeof v[0] === "string" && typeof v[1] === "string") {
      return { createdAt: v[0], id: v[1] };
    }
  } catch {}
  throw new WarrenError("INVALID_ARGUMENT", "invalid cursor; pass back the nextCursor of a previous page", {
    field: "cursor",
  });
}

export function createEnvReadOps(d: EnvReadDeps): EnvReadOps {
  return {
    async page(a, q) {
      // Checked first: the organisation filter is what keeps the page to the actor's own.
      const org = actorOrg(a);
      // Names are [a-z0-9-]; a prefix outside that set matches nothing, and checking it here keeps
      // LIKE wildcards out of the query.
      if (q.name !== undefined && !/^[a-z0-9-]*$/.test(q.name)) {
        throw new WarrenError(
          "INVALID_ARGUMENT",
          `invalid name filter "${q.name}": names use a-z, 0-9 and -`,
          { field: "name", pattern: NAME_RE.source },
        );
      }
      const limit = q.limit ?? DEFAULT_PAGE_LIMIT;
      const rows = await listEnvPage(d.db, {
        limit,
        ...(q.cursor !== undefined ? { after: decodeCursor(q.cursor) } : {}),
        ...(q.state !== undefined ? { state: q.state } : {}),
        ...(q.name ? { namePrefix: q.name } : {}),
        ...(q.project !== undefined ? { project: normalizeProject(q.project) } : {}),
        ...(org !== undefined ? { orgId: org } : {}),
      });
      const page = rows.slice(0, limit);
      const last = page.at(-1);
      // Scoping filters after the page is cut, so a page may hold fewer than `limit` items; the
      // cursor still advances past what was filtered, and every visible item appears exactly once.
      const visible = page.filter((r) => canSeeEnv(a, r));
      const out: EnvPage = {
        items: await withRunnerRefs(d.db, visible.map(toEnvironment), runnerIdsOf(visible)),
      };
      if (rows.length > limit && last) out.nextCursor = encodeCursor(last.created_at, last.id);
      return out;
    },

    async logs(a, nameOrId, opts, onData) {
      const row = await d.find(a, nameOrId);
      const stream = await d.runner.logs(row.id, opts, onData);
      if (!opts.follow || !d.untilGone) return stream;
      // The runner's follower waits for more lines forever; a removed environment has none, so
      // the follow ends with a line saying why.
      const stop = new AbortController();
      d.untilGone(row.id, stop.signal).then(
        (gone) => {
          if (!gone) return;
          onData(`[warren] log stream closed: environment ${row.name} was removed\n`);
          stream.close();
        },
        () => undefined,
      );
      const ended = () => stop.abort();
      stream.done.then(ended, ended);
      return {
        done: stream.done,
        close: () => {
          stop.abort();
          stream.close();
        },
      };
    },

    async exec(a, nameOrId, req, h) {
      const row = await d.requireRunning(a, nameOrId);
      return d.runner.exec(row.id, withSetupDefaults(row, req), h);
    },

    async dial(a, nameOrId, port, host) {
      const row = await d.requireRunning(a, nameOrId);
      return d.runner.dial(row.id, port, host);
    },
  };
}
