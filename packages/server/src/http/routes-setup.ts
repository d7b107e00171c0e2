// Repository environments (services/setups.ts): upload a local directory for `up --repo DIR`,
// rebuild, run a lifecycle hook. Validate, call, convert.

import type { Readable } from "node:stream";
import { Type } from "@sinclair/typebox";
import { API_PREFIX, LIFECYCLE_HOOKS, MAX_UPLOAD_BYTES, WarrenError } from "@warren/protocol";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { EnvironmentService } from "../services/environments.ts";
import type { SetupService } from "../services/setups.ts";
import { requestActor } from "./auth.ts";
import { NameParams } from "./schemas.ts";
import { Environment, errors } from "./schemas-response.ts";

const tags = ["environments"];
const Upload = Type.Object({ id: Type.String(), sizeBytes: Type.Integer({ minimum: 0 }) });
const HookParams = Type.Object({
  name: NameParams.properties.name,
  hook: Type.String({ maxLength: 64, description: `One of ${LIFECYCLE_HOOKS.join(", ")}` }),
});
const HookResult = Type.Object({
  hook: Type.String(),
  exitCode: Type.Integer({ description: "The hook's exit status; 0 when it has no command" }),
});

export function setupRoutes(
  app: FastifyInstance,
  setups: SetupService | undefined,
  envs: Pick<EnvironmentService, "find">,
): void {
  const svc = (): SetupService => {
    if (!setups)
      throw new WarrenError("INVALID_ARGUMENT", "repository environments are not configured on this server");
    return setups;
  };
  // An environment the caller may not see is not found, configured or not.
  const visible = async (req: FastifyRequest, name: string) => {
    await envs.find(requestActor(req), name);
    return svc();
  };
  // The tar streams to disk as it arrives; the service enforces the size cap.
  app.addContentTypeParser("application/x-tar", (_req, payload, done) => done(null, payload));

  app.put(
    `${API_PREFIX}/uploads`,
    {
      bodyLimit: MAX_UPLOAD_BYTES,
      schema: {
        operationId: "uploadDirectory",
        tags,
        summary:
          "Upload a tar of a local directory (application/x-tar) for `warren up --repo DIR`; kept for an hour.",
        response: {
          200: Upload,
          ...errors("INVALID_ARGUMENT", "UNAUTHENTICATED", "FORBIDDEN", "PAYLOAD_TOO_LARGE"),
        },
      },
    },
    async (req) => {
      if (req.headers["content-type"] !== "application/x-tar")
        throw new WarrenError("INVALID_ARGUMENT", "send the directory as application/x-tar", {
          field: "content-type",
        });
      const declared = req.headers["content-length"] ? Number(req.headers["content-length"]) : undefined;
      return svc().upload(requestActor(req), req.body as Readable, declared);
    },
  );

  app.post<{ Params: NameParams }>(
    `${API_PREFIX}/environments/:name/rebuild`,
    {
      schema: {
        operationId: "rebuildEnvironment",
        tags,
        summary:
          "Read devcontainer.json again, rebuild the image and rerun the create-time hooks; the workspace is kept.",
        params: NameParams,
        response: {
          200: Environment,
          ...errors("INVALID_ARGUMENT", "ENV_NOT_FOUND", "ENV_NOT_RUNNING", "UNAUTHENTICATED", "FORBIDDEN"),
        },
      },
    },
    async (req) => (await visible(req, req.params.name)).rebuild(requestActor(req), req.params.name),
  );

  app.post<{ Params: { name: string; hook: string } }>(
    `${API_PREFIX}/environments/:name/hooks/:hook`,
    {
      schema: {
        operationId: "runEnvironmentHook",
        tags,
        summary: "Run one lifecycle hook now and wait for it; its output goes to the environment's log.",
        params: HookParams,
        response: {
          200: HookResult,
          ...errors(
            "INVALID_ARGUMENT",
            "ENV_NOT_FOUND",
            "ENV_NOT_RUNNING",
            "UNAUTHENTICATED",
            "FORBIDDEN",
            "RUNNER_UNAVAILABLE",
          ),
        },
      },
    },
    async (req) =>
      (await visible(req, req.params.name)).runHook(requestActor(req), req.params.name, req.params.hook),
  );
}
