// Identity routes: personal tokens, whoami, runner tokens (admins), membership (owners), and the
// runner API's placeholder ping. Thin: validate, call the identity service, convert.
import { type Static, Type } from "@sinclair/typebox";
import { API_PREFIX, type CreateTokenRequest, WarrenError } from "@warren/protocol";
import type { FastifyInstance } from "fastify";
import type { IdentityService } from "../services/identity.ts";
import { callerOf } from "./auth.ts";
import { carriesSecrets } from "./idempotency.ts";
import { errors, items } from "./schemas-response.ts";

const Name = Type.String({ minLength: 1, maxLength: 200 });
const Scope = Type.String({ minLength: 1, maxLength: 64 });
const Scopes = Type.Array(Scope, {
  maxItems: 8,
  description: 'Narrow the token: "metrics:read" reads /metrics and nothing else. Empty: full access.',
});
const TokenBody = Type.Object(
  { name: Name, expiresInDays: Type.Optional(Type.Integer({ minimum: 1 })), scopes: Type.Optional(Scopes) },
  { additionalProperties: false },
);
type TokenBody = Static<typeof TokenBody>;
const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 100 }) });
type IdParams = Static<typeof IdParams>;
const OrgParams = Type.Object({ org: Type.String({ minLength: 1, maxLength: 100 }) });
type OrgParams = Static<typeof OrgParams>;
const MemberParams = Type.Object({ org: Type.String({ minLength: 1, maxLength: 100 }), user: Name });
type MemberParams = Static<typeof MemberParams>;
const Role = Type.Union([Type.Literal("owner"), Type.Literal("admin"), Type.Literal("member")]);
const MemberBody = Type.Object({ name: Name, role: Role }, { additionalProperties: false });
type MemberBody = Static<typeof MemberBody>;

// Response shapes (protocol identity.ts), for the OpenAPI document.
const Whoami = Type.Object({
  user: Type.Object({ id: Type.String(), name: Type.String() }),
  org: Type.Object({ id: Type.String(), name: Type.String() }),
  role: Role,
  via: Type.Union([Type.Literal("local-socket"), Type.Literal("token")]),
  tokenId: Type.Optional(Type.String()),
});
const CreatedToken = Type.Object({
  id: Type.String(),
  token: Type.String({ description: "The secret, shown only in this response." }),
  expiresAt: Type.String(),
});
const TokenInfo = Type.Object({
  id: Type.String(),
  kind: Type.Union([Type.Literal("user"), Type.Literal("runner")]),
  name: Type.String(),
  createdAt: Type.String(),
  expiresAt: Type.String(),
  revokedAt: Type.Optional(Type.String()),
  scopes: Type.Array(Type.String()),
});
const Member = Type.Object({ userId: Type.String(), name: Type.String(), role: Role });
const Done = Type.Null({ description: "Done" });
const doc = (operationId: string, summary: string) => ({ operationId, tags: ["identity"], summary });

export function adminRoutes(app: FastifyInstance, identity: IdentityService | undefined): void {
  const svc = (): IdentityService => {
    if (!identity) throw new WarrenError("INVALID_ARGUMENT", "identity is not configured on this server");
    return identity;
  };

  app.get(
    `${API_PREFIX}/whoami`,
    {
      schema: {
        ...doc("whoami", "The caller's user, organisation and role."),
        response: { 200: Whoami, ...errors("INVALID_ARGUMENT", "UNAUTHENTICATED") },
      },
    },
    (req) => svc().whoami(callerOf(req)),
  );

  app.post<{ Body: TokenBody }>(
    `${API_PREFIX}/tokens`,
    {
      schema: {
        ...doc("createToken", "Create a personal API token; the secret is shown once."),
        body: TokenBody,
        response: {
          201: CreatedToken,
          ...errors("INVALID_ARGUMENT", "UNAUTHENTICATED", "SECRET_SHOWN_ONCE"),
        },
      },
      config: carriesSecrets("token"),
    },
    async (req, reply) =>
      reply.status(201).send(await svc().createToken(callerOf(req), req.body as CreateTokenRequest)),
  );

  app.get(
    `${API_PREFIX}/tokens`,
    {
      schema: {
        ...doc("listTokens", "The caller's tokens (admins: also runner tokens), never their secrets."),
        response: { 200: items(TokenInfo), ...errors("INVALID_ARGUMENT", "UNAUTHENTICATED") },
      },
    },
    async (req) => ({ items: await svc().listTokens(callerOf(req)) }),
  );

  app.delete<{ Params: IdParams }>(
    `${API_PREFIX}/tokens/:id`,
    {
      schema: {
        ...doc("revokeToken", "Revoke a token; its next call fails."),
        params: IdParams,
        response: { 204: Done, ...errors("INVALID_ARGUMENT", "NOT_FOUND", "UNAUTHENTICATED", "FORBIDDEN") },
      },
    },
    async (req, reply) => {
      await svc().revokeToken(callerOf(req), req.params.id);
      return reply.status(204).send();
    },
  );

  app.post<{ Body: TokenBody }>(
    `${API_PREFIX}/admin/runner-tokens`,
    {
      schema: {
        ...doc("createRunnerToken", "Create a runner token (admins); the secret is shown once."),
        body: TokenBody,
        response: {
          201: CreatedToken,
          ...errors("INVALID_ARGUMENT", "UNAUTHENTICATED", "FORBIDDEN", "SECRET_SHOWN_ONCE"),
        },
      },
      config: carriesSecrets("token"),
    },
    async (req, reply) =>
      reply.status(201).send(await svc().createRunnerToken(callerOf(req), req.body as CreateTokenRequest)),
  );

  const MEMBERS = `${API_PREFIX}/orgs/:org/members`;
  const memberErrors = errors("INVALID_ARGUMENT", "NOT_FOUND", "UNAUTHENTICATED", "FORBIDDEN");
  app.get<{ Params: OrgParams }>(
    MEMBERS,
    {
      schema: {
        ...doc("listMembers", "Members of an organisation (owners)."),
        params: OrgParams,
        response: { 200: items(Member), ...memberErrors },
      },
    },
    async (req) => ({ items: await svc().listMembers(callerOf(req), req.params.org) }),
  );

  app.post<{ Params: OrgParams; Body: MemberBody }>(
    MEMBERS,
    {
      schema: {
        ...doc("addMember", "Add a user to an organisation, or change its role (owners)."),
        params: OrgParams,
        body: MemberBody,
        response: { 201: Member, ...memberErrors },
      },
    },
    async (req, reply) =>
      reply.status(201).send(await svc().addMember(callerOf(req), req.params.org, req.body)),
  );

  app.delete<{ Params: MemberParams }>(
    `${MEMBERS}/:user`,
    {
      schema: {
        ...doc("removeMember", "Remove a user from an organisation (owners)."),
        params: MemberParams,
        response: { 204: Done, ...memberErrors },
      },
    },
    async (req, reply) => {
      await svc().removeMember(callerOf(req), req.params.org, req.params.user);
      return reply.status(204).send();
    },
  );
}
