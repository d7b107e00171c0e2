import { PassThrough } from "node:stream";
import { Type } from "@sinclair/typebox";
import { API_PREFIX } from "@warren/protocol";
import type { FastifyInstance } from "fastify";
import type { HttpDeps } from "./build.ts";
import { flag, LogsQuery, NameParams } from "./schemas.ts";
import { errors } from "./schemas-response.ts";

export function logRoutes(app: FastifyInstance, { envs, runner, shutdown }: HttpDeps): void {
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
      const row = await envs.find(req.params.name);
      const out = new PassThrough();
      const opts = {
        follow: flag(req.query.follow, false),
        ...(req.query.tail !== undefined ? { tail: req.query.tail } : {}),
      };
      const stream = runner.logs(row.id, opts, (chunk) => {
        if (!out.writableEnded) out.write(chunk);
      });
      // A follower holds the stream open forever: let go of the runner side as soon as the
      // client hangs up or the daemon shuts down.
      const close = () => stream.close();
      reply.raw.once("close", close);
      shutdown?.addEventListener("abort", close, { once: true });
      stream.done
        .catch((err: unknown) => req.log.warn({ err, envId: row.id }, "log stream failed"))
        .finally(() => {
          shutdown?.removeEventListener("abort", close);
          out.end();
        });
      return reply.type("text/plain; charset=utf-8").send(out);
    },
  );
}
