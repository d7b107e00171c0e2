import { Type } from "@sinclair/typebox";
import { API_PREFIX } from "@warren/protocol";
import type { FastifyInstance } from "fastify";
import { requestActor } from "./auth.ts";
import type { HttpDeps } from "./build.ts";
import { EnvListQuery, listOrWatch } from "./env-list.ts";
import {
  CreateEnvBody,
  DeleteQuery,
  flag,
  NameParams,
  SetResourcesBody,
  StopBody,
  WaitQuery,
} from "./schemas.ts";
import { Environment, errors } from "./schemas-response.ts";

const ENVS = `${API_PREFIX}/environments`;
const EnvPage = Type.Object({
  items: Type.Array(Environment),
  nextCursor: Type.Optional(
    Type.String({ description: "Present when more follow; pass it back as `cursor`." }),
  ),
});
const tags = ["environments"];

export function environmentRoutes(app: FastifyInstance, deps: HttpDeps): void {
  const { envs } = deps;
  app.get<{ Querystring: EnvListQuery }>(
    ENVS,
    {
      schema: {
        querystring: EnvListQuery,
        operationId: "listEnvironments",
        tags,
        summary: "Every environment.",
        response: {
          200: {
            description: "A page of environments; with `watch=1`, Server-Sent Events of WatchEvents instead",
            content: {
              "application/json": { schema: EnvPage },
              "text/event-stream": { schema: Type.String({ description: "event:, id: and data: lines" }) },
            },
          },
          ...errors("INVALID_ARGUMENT", "WATCH_EXPIRED"),
        },
      },
    },
    (req, reply) => listOrWatch(req, reply, deps),
  );

  app.post<{ Body: CreateEnvBody; Querystring: WaitQuery }>(
    ENVS,
    {
      schema: {
        operationId: "createEnvironment",
        tags,
        summary: "Create an environment (idempotent by name).",
        description:
          "201 with the new environment; 200 if one with the same name and spec exists (started if " +
          "needed); 409 NAME_CONFLICT if its spec differs. `wait` (default 1) waits until running or failed.",
        body: CreateEnvBody,
        querystring: WaitQuery,
        response: {
          200: Environment,
          201: Environment,
          ...errors(
            "INVALID_ARGUMENT",
            "INVALID_SIZE",
            "OUT_OF_CLASS_BOUNDS",
            "RUNTIME_UNSUPPORTED",
            "CLASS_NOT_FOUND",
            "IMAGE_NOT_FOUND",
            "NAME_CONFLICT",
            "ENV_FAILED",
            "INSUFFICIENT_DISK",
            "CAPACITY_EXHAUSTED",
            "UNSCHEDULABLE",
            "QUOTA_EXCEEDED",
            "REGISTRY_AUTH_FAILED",
            "REGISTRY_UNAVAILABLE",
            "RUNNER_UNAVAILABLE",
            "TIMEOUT",
          ),
        },
      },
    },
    async (req, reply) => {
      const { env, created } = await envs.create(requestActor(req), req.body, {
        wait: flag(req.query.wait, true),
      });
      return reply.status(created ? 201 : 200).send(env);
    },
  );

  app.get<{ Params: NameParams }>(
    `${ENVS}/:name`,
    {
      schema: {
        operationId: "getEnvironment",
        tags,
        summary: "One environment, with what the runner observes (pid, uid range, cgroups, PSI).",
        params: NameParams,
        response: { 200: Environment, ...errors("INVALID_ARGUMENT", "ENV_NOT_FOUND") },
      },
    },
    (req) => envs.get(requestActor(req), req.params.name),
  );

  app.patch<{ Params: NameParams; Body: SetResourcesBody }>(
    `${ENVS}/:name`,
    {
      schema: {
        operationId: "setEnvironment",
        tags,
        summary: "Resize: recorded, then applied live if running; a refused change changes nothing.",
        params: NameParams,
        body: SetResourcesBody,
        response: {
          200: Environment,
          ...errors(
            "INVALID_ARGUMENT",
            "INVALID_SIZE",
            "OUT_OF_CLASS_BOUNDS",
            "ENV_NOT_FOUND",
            "ENV_FAILED",
            "QUOTA_EXCEEDED",
            "UNSCHEDULABLE",
          ),
        },
      },
    },
    (req) => envs.setResources(requestActor(req), req.params.name, req.body),
  );

  app.post<{ Params: NameParams }>(
    `${ENVS}/:name/start`,
    {
      schema: {
        operationId: "startEnvironment",
        tags,
        summary: "Start an environment and wait until it runs.",
        params: NameParams,
        response: {
          200: Environment,
          ...errors(
            "INVALID_ARGUMENT",
            "ENV_NOT_FOUND",
            "ENV_FAILED",
            "INSUFFICIENT_DISK",
            "QUOTA_EXCEEDED",
            "TIMEOUT",
          ),
        },
      },
    },
    (req) => envs.start(requestActor(req), req.params.name),
  );

  app.post<{ Params: NameParams; Body: StopBody }>(
    `${ENVS}/:name/stop`,
    {
      schema: {
        operationId: "stopEnvironment",
        tags,
        summary: "Stop an environment and wait until it has stopped.",
        params: NameParams,
        body: StopBody,
        response: {
          200: Environment,
          ...errors("INVALID_ARGUMENT", "ENV_NOT_FOUND", "ENV_FAILED", "TIMEOUT"),
        },
      },
    },
    (req) => envs.stop(requestActor(req), req.params.name, req.body?.graceSeconds),
  );

  app.delete<{ Params: NameParams; Querystring: DeleteQuery }>(
    `${ENVS}/:name`,
    {
      schema: {
        operationId: "deleteEnvironment",
        tags,
        summary: "Delete an environment; waits until every host object is gone.",
        params: NameParams,
        querystring: DeleteQuery,
        response: {
          204: Type.Null({ description: "Deleted" }),
          ...errors("INVALID_ARGUMENT", "ENV_NOT_FOUND", "ENV_RUNNING", "ENV_FAILED", "TIMEOUT"),
        },
      },
    },
    async (req, reply) => {
      await envs.delete(requestActor(req), req.params.name, flag(req.query.force, false));
      return reply.status(204).send();
    },
  );
}
