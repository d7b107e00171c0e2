// Prebuilds (services/prebuilds.ts): make or re-run, list, remove, and the push webhook that a
// CI job or a git host's hook calls with an API token of the organisation. Validate, call, convert.
import { type Static, Type } from "@sinclair/typebox";
import { API_PREFIX, PREBUILD_STATES, type Prebuild as PrebuildT, WarrenError } from "@warren/protocol";
import type { FastifyInstance } from "fastify";
import type { PrebuildService } from "../services/prebuilds.ts";
import { requestActor } from "./auth.ts";
import { errors } from "./schemas-response.ts";

const PATH = `${API_PREFIX}/prebuilds`;
const tags = ["environments"];
const lit = <T extends string>(xs: readonly T[]) => Type.Union(xs.map((x) => Type.Literal(x)));

export const Prebuild = Type.Object({
  id: Type.String(),
  repo: Type.String({ description: "The repository, normalized (host/owner/name)" }),
  url: Type.String(),
  branch: Type.String({ description: '"" for the remote\'s default branch' }),
  state: lit(PREBUILD_STATES),
  message: Type.Optional(Type.String()),
  commit: Type.Optional(Type.String()),
  configDigest: Type.Optional(Type.String()),
  image: Type.Optional(Type.String()),
  everySeconds: Type.Optional(Type.Integer()),
  nextRunAt: Type.Optional(Type.String()),
  builtAt: Type.Optional(Type.String()),
  createdAt: Type.String(),
  updatedAt: Type.String(),
});
const Repo = Type.String({ minLength: 1, maxLength: 1024 });
const Branch = Type.String({ maxLength: 255 });
const CreateBody = Type.Object(
  {
    repo: Repo,
    branch: Type.Optional(Branch),
    every: Type.Optional(
      Type.String({ maxLength: 32, description: "A duration (6h, 1d): run again this often" }),
    ),
    devcontainerPath: Type.Optional(Type.String({ maxLength: 512 })),
  },
  { additionalProperties: false },
);
const WebhookBody = Type.Object(
  { repo: Repo, branch: Type.Optional(Branch) },
  { additionalProperties: false },
);
const RemoveQuery = Type.Object(
  { repo: Type.String({ minLength: 1, maxLength: 1024 }), branch: Type.Optional(Branch) },
  { additionalProperties: false },
);

export function prebuildRoutes(app: FastifyInstance, svc: PrebuildService | undefined): void {
  const service = (): PrebuildService => {
    if (!svc) throw new WarrenError("INVALID_ARGUMENT", "prebuilds are not configured on this server");
    return svc;
  };

  app.post<{ Body: Static<typeof CreateBody> }>(
    PATH,
    {
      schema: {
        operationId: "createPrebuild",
        tags,
        summary:
          "Prebuild a repository's branch (clone, build, onCreateCommand, updateContentCommand) into a disk template `up --repo` starts from; re-runs an existing one.",
        body: CreateBody,
        response: {
          200: Prebuild,
          ...errors(
            "INVALID_ARGUMENT",
            "UNAUTHENTICATED",
            "FORBIDDEN",
            "QUOTA_EXCEEDED",
            "CAPACITY_EXHAUSTED",
            "UNSCHEDULABLE",
            "INSUFFICIENT_DISK",
            "CLASS_NOT_FOUND",
            "IMAGE_NOT_FOUND",
            "NAME_CONFLICT",
            "RUNNER_UNAVAILABLE",
          ),
        },
      },
    },
    async (req) => service().create(requestActor(req), req.body),
  );

  app.get(
    PATH,
    {
      schema: {
        operationId: "listPrebuilds",
        tags,
        summary: "The organisation's prebuilds.",
        response: {
          200: Type.Object({ items: Type.Array(Prebuild) }),
          ...errors("UNAUTHENTICATED", "FORBIDDEN"),
        },
      },
    },
    async (req) => ({ items: await service().list(requestActor(req)) }),
  );

  app.delete<{ Querystring: Static<typeof RemoveQuery> }>(
    PATH,
    {
      schema: {
        operationId: "removePrebuild",
        tags,
        summary: "Remove a prebuild (by id, or by repository and branch) and its disk template.",
        querystring: RemoveQuery,
        response: {
          200: Type.Object({}),
          ...errors("INVALID_ARGUMENT", "UNAUTHENTICATED", "FORBIDDEN", "PREBUILD_NOT_FOUND"),
        },
      },
    },
    async (req) => {
      await service().remove(requestActor(req), req.query.repo, req.query.branch);
      return {};
    },
  );

  app.post<{ Body: Static<typeof WebhookBody> }>(
    `${PATH}/webhook`,
    {
      schema: {
        operationId: "prebuildWebhook",
        tags,
        summary:
          "A push happened: run the repository's and branch's prebuild again (an API token of the organisation authenticates it).",
        body: WebhookBody,
        response: {
          200: Prebuild,
          ...errors(
            "INVALID_ARGUMENT",
            "UNAUTHENTICATED",
            "FORBIDDEN",
            "PREBUILD_NOT_FOUND",
            "QUOTA_EXCEEDED",
            "CAPACITY_EXHAUSTED",
            "UNSCHEDULABLE",
            "INSUFFICIENT_DISK",
            "RUNNER_UNAVAILABLE",
          ),
        },
      },
    },
    async (req) => service().webhook(requestActor(req), req.body),
  );
}

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Assert<T extends true> = T;
export type _Checks = [Assert<Same<Static<typeof Prebuild>, PrebuildT>>];
