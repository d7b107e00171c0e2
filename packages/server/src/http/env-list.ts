// GET /api/v1/environments: a paged, filtered list, or (with ?watch=1) a watch over SSE.
import { Type } from "@sinclair/typebox";
import {
  DEFAULT_PAGE_LIMIT,
  ENV_STATES,
  type Environment,
  type EnvPage,
  MAX_PAGE_LIMIT,
  NAME_RE,
  normalizeProject,
  WarrenError,
} from "@warren/protocol";
import type { FastifyReply, FastifyRequest } from "fastify";
import { callerOrg, canSeeEnv } from "../services/scope.ts";
import type { EnvWatchService } from "../services/watch.ts";
import type { Db } from "../store/db.ts";
import { listEnvPage } from "../store/queries/env-pages.ts";
import { type EnvRow, toEnvironment } from "../store/queries/envs.ts";
import { flag } from "./schemas.ts";
import { resumeVersion, serveWatch } from "./sse-watch.ts";

const Flag = Type.Union([Type.Literal("1"), Type.Literal("0"), Type.Literal("true"), Type.Literal("false")]);

export const EnvListQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_PAGE_LIMIT })),
  cursor: Type.Optional(Type.String({ maxLength: 512 })),
  state: Type.Optional(Type.Union(ENV_STATES.map((s) => Type.Literal(s)))),
  name: Type.Optional(Type.String({ maxLength: 40 })),
  project: Type.Optional(Type.String({ minLength: 1, maxLength: 1024 })),
  watch: Type.Optional(Flag),
  resourceVersion: Type.Optional(Type.String({ pattern: "^[0-9]{1,15}$" })),
});
export interface EnvListQuery {
  limit?: number;
  cursor?: string;
  state?: (typeof ENV_STATES)[number];
  name?: string;
  project?: string;
  watch?: "1" | "0" | "true" | "false";
  resourceVersion?: string;
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

export async function listEnvironmentsPage(db: Db, q: EnvListQuery): Promise<EnvPage> {
  // Names are [a-z0-9-]; a prefix outside that set matches nothing, and checking it here keeps
  // LIKE wildcards out of the query.
  if (q.name !== undefined && !/^[a-z0-9-]*$/.test(q.name)) {
    throw new WarrenError("INVALID_ARGUMENT", `invalid name filter "${q.name}": names use a-z, 0-9 and -`, {
      field: "name",
      pattern: NAME_RE.source,
    });
  }
  const limit = q.limit ?? DEFAULT_PAGE_LIMIT;
  const org = callerOrg();
  const rows = await listEnvPage(db, {
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
  const out: EnvPage = { items: page.filter(canSeeEnv).map(toEnvironment) };
  if (rows.length > limit && last) out.nextCursor = encodeCursor(last.created_at, last.id);
  return out;
}

export interface ListDeps {
  envs: { list(): Promise<Environment[]> };
  db?: Db | undefined;
  watch?: EnvWatchService | undefined;
  shutdown: AbortSignal | undefined;
}

export async function listOrWatch(
  req: FastifyRequest<{ Querystring: EnvListQuery }>,
  reply: FastifyReply,
  d: ListDeps,
): Promise<unknown> {
  const q = req.query;
  if (flag(q.watch, false)) {
    if (!d.watch) throw new WarrenError("INVALID_ARGUMENT", "watching is not enabled on this server");
    await serveWatch(req, reply, d.watch, {
      resourceVersion: resumeVersion(req, q.resourceVersion),
      shutdown: d.shutdown,
      visible: (o) => canSeeEnv(o as unknown as EnvRow),
    });
    return reply;
  }
  // Without the store (a bare build in a test) the whole list is one page, as before paging.
  if (!d.db) return { items: await d.envs.list() };
  return listEnvironmentsPage(d.db, q);
}
