// Users' SSH public keys for the SSH gateway (services/ssh-keys.ts): validate, call, convert.
import { type Static, Type } from "@sinclair/typebox";
import {
  API_PREFIX,
  MAX_SSH_KEY_NAME,
  MAX_SSH_PUBLIC_KEY,
  type SshKey as SshKeyT,
  WarrenError,
} from "@warren/protocol";
import type { FastifyInstance } from "fastify";
import type { SshKeyService } from "../services/ssh-keys.ts";
import { requestActor } from "./auth.ts";
import { errors, items } from "./schemas-response.ts";

const KEYS = `${API_PREFIX}/ssh-keys`;
const tags = ["ssh-keys"];

export const SshKey = Type.Object({
  id: Type.String(),
  name: Type.String(),
  type: Type.String({ description: "ssh-ed25519, ecdsa-sha2-nistp256/384/521 or ssh-rsa" }),
  bits: Type.Number(),
  fingerprint: Type.String({ description: "SHA256:base64, as `ssh-keygen -l` prints it" }),
  publicKey: Type.String({ description: "TYPE BASE64, an authorized_keys line without comment" }),
  userId: Type.String(),
  createdAt: Type.String({ description: "ISO 8601 time" }),
});
const Body = Type.Object({
  publicKey: Type.String({ minLength: 1, maxLength: MAX_SSH_PUBLIC_KEY }),
  name: Type.Optional(Type.String({ minLength: 1, maxLength: MAX_SSH_KEY_NAME })),
});
type Body = Static<typeof Body>;
const ListQuery = Type.Object({
  all: Type.Optional(Type.Union([Type.Literal("0"), Type.Literal("1")])),
});
type ListQuery = Static<typeof ListQuery>;
const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });
type IdParams = Static<typeof IdParams>;
const Done = Type.Null({ description: "Done" });

export function sshKeyRoutes(app: FastifyInstance, keys: SshKeyService | undefined): void {
  const svc = (): SshKeyService => {
    if (!keys) throw new WarrenError("INVALID_ARGUMENT", "SSH keys are not configured on this server");
    return keys;
  };

  app.get<{ Querystring: ListQuery }>(
    KEYS,
    {
      schema: {
        operationId: "listSshKeys",
        tags,
        summary: "Your SSH public keys; all=1 (admins): every member's key in the organisation.",
        querystring: ListQuery,
        response: { 200: items(SshKey), ...errors("INVALID_ARGUMENT", "UNAUTHENTICATED", "FORBIDDEN") },
      },
    },
    async (req) => ({ items: await svc().list(requestActor(req), { all: req.query.all === "1" }) }),
  );

  app.post<{ Body: Body }>(
    KEYS,
    {
      schema: {
        operationId: "addSshKey",
        tags,
        summary:
          "Register an SSH public key (ed25519, ECDSA, or RSA of 3072 bits or more) for the SSH gateway.",
        body: Body,
        response: {
          201: SshKey,
          ...errors("INVALID_ARGUMENT", "UNAUTHENTICATED", "FORBIDDEN", "SSH_KEY_EXISTS"),
        },
      },
    },
    async (req, reply) => reply.status(201).send(await svc().add(requestActor(req), req.body)),
  );

  app.delete<{ Params: IdParams }>(
    `${KEYS}/:id`,
    {
      schema: {
        operationId: "removeSshKey",
        tags,
        summary: "Remove an SSH key (yours; admins: any member's); SSH sessions it opened end.",
        params: IdParams,
        response: { 204: Done, ...errors("INVALID_ARGUMENT", "NOT_FOUND", "UNAUTHENTICATED", "FORBIDDEN") },
      },
    },
    async (req, reply) => {
      await svc().remove(requestActor(req), req.params.id);
      return reply.status(204).send();
    },
  );
}

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Assert<T extends true> = T;
export type _Checks = [Assert<Same<Static<typeof SshKey>, SshKeyT>>];
