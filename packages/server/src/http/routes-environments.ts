import { API_PREFIX } from "@warren/protocol";
import type { FastifyInstance } from "fastify";
import type { HttpDeps } from "./build.ts";
import {
  CreateEnvBody,
  DeleteQuery,
  flag,
  NameParams,
  SetResourcesBody,
  StopBody,
  WaitQuery,
} from "./schemas.ts";

const ENVS = `${API_PREFIX}/environments`;

export function environmentRoutes(app: FastifyInstance, { envs }: HttpDeps): void {
  app.get(ENVS, async () => ({ items: await envs.list() }));

  app.post<{ Body: CreateEnvBody; Querystring: WaitQuery }>(
    ENVS,
    { schema: { body: CreateEnvBody, querystring: WaitQuery } },
    async (req, reply) => {
      const { env, created } = await envs.create(req.body, { wait: flag(req.query.wait, true) });
      return reply.status(created ? 201 : 200).send(env);
    },
  );

  app.get<{ Params: NameParams }>(`${ENVS}/:name`, { schema: { params: NameParams } }, (req) =>
    envs.get(req.params.name),
  );

  app.patch<{ Params: NameParams; Body: SetResourcesBody }>(
    `${ENVS}/:name`,
    { schema: { params: NameParams, body: SetResourcesBody } },
    (req) => envs.setResources(req.params.name, req.body),
  );

  app.post<{ Params: NameParams }>(`${ENVS}/:name/start`, { schema: { params: NameParams } }, (req) =>
    envs.start(req.params.name),
  );

  app.post<{ Params: NameParams; Body: StopBody }>(
    `${ENVS}/:name/stop`,
    { schema: { params: NameParams, body: StopBody } },
    (req) => envs.stop(req.params.name, req.body?.graceSeconds),
  );

  app.delete<{ Params: NameParams; Querystring: DeleteQuery }>(
    `${ENVS}/:name`,
    { schema: { params: NameParams, querystring: DeleteQuery } },
    async (req, reply) => {
      await envs.delete(req.params.name, flag(req.query.force, false));
      return reply.status(204).send();
    },
  );
}
