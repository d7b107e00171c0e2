// Secrets (services/secrets.ts). Values travel in a PUT body only (never a URL or query string,
// which end up in logs) and are never returned: every reply is names, scopes and kinds.
import { type Static, Type } from "@sinclair/typebox";
import { API_PREFIX, MAX_SECRET_ALLOW, WarrenError } from "@warren/protocol";
import type { FastifyInstance } from "fastify";
import type { SecretService } from "../services/secrets.ts";
import { requestActor } from "./auth.ts";
import { errors, items } from "./schemas-response.ts";

const SECRETS = `${API_PREFIX}/secrets`;
const tags = ["secrets"];

const Scope = Type.Union([Type.Literal("org"), Type.Literal("user"), Type.Literal("project")]);
const Kind = Type.Union([Type.Literal("env"), Type.Literal("file")]);
const Params = Type.Object({ scope: Scope, name: Type.String({ minLength: 1, maxLength: 128 }) });
type Params = Static<typeof Params>;
const Query = Type.Object({ project: Type.Optional(Type.String({ minLength: 1, maxLength: 1024 })) });
type Query = Static<typeof Query>;
const Body = Type.Object(
  {
    value: Type.String({ minLength: 1, maxLength: 65536 }),
    kind: Kind,
    path: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
    project: Type.Optional(Type.String({ minLength: 1, maxLength: 1024 })),
    allow: Type.Optional(
      Type.Union(
        [
          Type.Array(Type.String({ minLength: 6, maxLength: 205 }), {
            minItems: 1,
            maxItems: MAX_SECRET_ALLOW,
          }),
          Type.Null(),
        ],
        {
          description:
            'Project secrets only: who receives it, "user:NAME" or "role:member|admin|owner" (a role admits higher ones too). Absent: unchanged (new secrets: every member who names the project); null: lift a restriction.',
        },
      ),
    ),
  },
  { additionalProperties: false },
);
type Body = Static<typeof Body>;
const Time = Type.String();
export const SecretInfo = Type.Object({
  name: Type.String(),
  scope: Scope,
  kind: Kind,
  path: Type.Optional(Type.String()),
  project: Type.Optional(Type.String()),
  user: Type.Optional(Type.String()),
  allow: Type.Optional(Type.Array(Type.String())),
  createdAt: Time,
  updatedAt: Time,
});

const notConfigured = (): never => {
  throw new WarrenError("INVALID_ARGUMENT", "secrets are not configured on this server");
};

export function secretRoutes(app: FastifyInstance, secrets: SecretService | undefined): void {
  app.get(
    SECRETS,
    {
      schema: {
        operationId: "listSecrets",
        tags,
        summary: "Secrets visible to the caller: names, scopes and kinds, never values.",
        response: { 200: items(SecretInfo), ...errors() },
      },
    },
    async (req) => ({ items: secrets ? await secrets.list(requestActor(req)) : [] }),
  );

  app.put<{ Params: Params; Body: Body }>(
    `${SECRETS}/:scope/:name`,
    {
      schema: {
        operationId: "setSecret",
        tags,
        summary: "Store (encrypted) a secret; the value is never returned.",
        params: Params,
        body: Body,
        response: { 200: SecretInfo, ...errors("INVALID_ARGUMENT", "FORBIDDEN") },
      },
    },
    async (req) =>
      (secrets ?? notConfigured()).set(requestActor(req), req.params.scope, req.params.name, req.body),
  );

  app.delete<{ Params: Params; Querystring: Query }>(
    `${SECRETS}/:scope/:name`,
    {
      schema: {
        operationId: "removeSecret",
        tags,
        summary: "Remove a secret (project secrets name their repository with ?project=URL).",
        params: Params,
        querystring: Query,
        response: {
          200: Type.Object({ removed: Type.Boolean() }),
          ...errors("INVALID_ARGUMENT", "FORBIDDEN"),
        },
      },
    },
    async (req) => ({
      removed: await (secrets ?? notConfigured()).remove(
        requestActor(req),
        req.params.scope,
        req.params.name,
        req.query.project,
      ),
    }),
  );

  app.post(
    `${API_PREFIX}/admin/rotate-key`,
    {
      schema: {
        operationId: "rotateKey",
        tags,
        summary: "Re-encrypt every secret and registry login under new keys (owners).",
        response: {
          200: Type.Object({ secrets: Type.Integer(), registryLogins: Type.Integer() }),
          ...errors("FORBIDDEN"),
        },
      },
    },
    async (req) => (secrets ?? notConfigured()).rotateKey(requestActor(req)),
  );
}
