import { PassThrough } from "node:stream";
import { Type } from "@sinclair/typebox";
import { API_PREFIX } from "@warren/protocol";
import type { FastifyInstance } from "fastify";
import { requestActor } from "./auth.ts";
import type { HttpDeps } from "./build.ts";
import { flag, LogsQuery, NameParams } from "./schemas.ts";
import { errors } from "./schemas-response.ts";

/**
 * The line a log stream ends with when its credential stops being valid, in the log's own
 * "[warren] ..." style so a human reading `warren logs -f` sees why it stopped.
 */
export const logEndLine = (message: string) => `[warren] log stream closed: ${message}\n`;

export function logRoutes(app: FastifyInstance, { envs, shutdown, sessions }: HttpDeps): void {
  app.get<{ Params: NameParams; Querystring: LogsQuery }>(
    `${API_PREFIX}/environments/:name/logs`,
    {
      schema: {
        operationId: "logs",
        tags: ["environments"],
        summary: "The environment's console log; `follow=1` keeps the stream open.",
        params: NameParams,
        querystring: LogsQuery,
        response: {
          200: { description: "Log text, streamed", content: { "text/plain": { schema: Type.String() } } },
          ...errors("INVALID_ARGUMENT", "ENV_NOT_FOUND"),
        },
      },
    },
    async (req, reply) => {
      const out = new PassThrough();
      const opts = {
        follow: flag(req.query.follow, false),
        ...(req.query.tail !== undefined ? { tail: req.query.tail } : {}),
      };
      const name = req.params.name;
      const actor = requestActor(req);
      const stream = await envs.logs(actor, name, opts, (chunk) => {
        if (!out.writableEnded) out.write(chunk);
      });
      // A follow is a live session (services/live-sessions.ts): a revoked or expired credential
      // ends it with a last line saying why, and nothing the runner sends after that is written.
      const live = sessions.open("logs", actor, (why) => {
        if (!out.writableEnded) out.end(logEndLine(why.message));
        stream.close();
      });
      // A follower holds the stream open forever: let go of the runner side as soon as the
      // client hangs up or the daemon shuts down.
      const close = () => stream.close();
      reply.raw.once("close", close);
      shutdown?.addEventListener("abort", close, { once: true });
      stream.done
        .catch((err: unknown) => req.log.warn({ err, name }, "log stream failed"))
        .finally(() => {
          live.close();
          shutdown?.removeEventListener("abort", close);
          out.end();
        });
      return reply.type("text/plain; charset=utf-8").send(out);
    },
  );
}
