// GET /api/v1/environments: a paged, filtered list, or (with ?watch=1) a watch over SSE. Both
// come from the services, as the request's actor sees them.
import { Type } from "@sinclair/typebox";
import { ENV_STATES, MAX_PAGE_LIMIT, WarrenError } from "@warren/protocol";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { EnvironmentService } from "../services/environments.ts";
import type { LiveSessions } from "../services/live-sessions.ts";
import type { EnvWatchService } from "../services/watch.ts";
import { requestActor } from "./auth.ts";
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

export interface ListDeps {
  envs: Pick<EnvironmentService, "page">;
  watch?: EnvWatchService | undefined;
  shutdown: AbortSignal | undefined;
  /** Watches end when the watcher's credential is revoked (services/live-sessions.ts). */
  sessions?: LiveSessions | undefined;
}

export async function listOrWatch(
  req: FastifyRequest<{ Querystring: EnvListQuery }>,
  reply: FastifyReply,
  d: ListDeps,
): Promise<unknown> {
  const actor = requestActor(req);
  const { watch: w, resourceVersion, ...q } = req.query;
  if (flag(w, false)) {
    if (!d.watch) throw new WarrenError("INVALID_ARGUMENT", "watching is not enabled on this server");
    await serveWatch(req, reply, d.watch, {
      actor,
      resourceVersion: resumeVersion(req, resourceVersion),
      shutdown: d.shutdown,
      sessions: d.sessions,
    });
    return reply;
  }
  return d.envs.page(actor, q);
}
