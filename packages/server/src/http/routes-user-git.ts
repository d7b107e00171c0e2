// The caller's developer identity (services/user-git.ts): validate, call, convert.
import { type Static, Type } from "@sinclair/typebox";
import {
  API_PREFIX,
  MAX_GIT_EMAIL,
  MAX_GIT_NAME,
  MAX_GIT_URL,
  type UserGit as UserGitT,
  WarrenError,
} from "@warren/protocol";
import type { FastifyInstance } from "fastify";
import type { UserGitService } from "../services/user-git.ts";
import { requestActor } from "./auth.ts";
import { errors } from "./schemas-response.ts";

const PATH = `${API_PREFIX}/user/git`;
const tags = ["users"];

export const UserGit = Type.Object({
  gitName: Type.Optional(Type.String({ description: "git config user.name in your environments" })),
  gitEmail: Type.Optional(Type.String({ description: "git config user.email in your environments" })),
  dotfiles: Type.Optional(
    Type.String({ description: "your dotfiles repository, cloned to ~/dotfiles and installed" }),
  ),
  updatedAt: Type.Optional(Type.String({ description: "ISO 8601 time" })),
});
const nullable = (max: number) => Type.Optional(Type.Union([Type.String({ maxLength: max }), Type.Null()]));
const Body = Type.Object(
  { gitName: nullable(MAX_GIT_NAME), gitEmail: nullable(MAX_GIT_EMAIL), dotfiles: nullable(MAX_GIT_URL) },
  { additionalProperties: false },
);
type Body = Static<typeof Body>;

export function userGitRoutes(app: FastifyInstance, svc: UserGitService | undefined): void {
  const service = (): UserGitService => {
    if (!svc) throw new WarrenError("INVALID_ARGUMENT", "user settings need the server's store");
    return svc;
  };

  app.get(
    PATH,
    {
      schema: {
        operationId: "getUserGit",
        tags,
        summary: "Your git name, email and dotfiles repository, as `warren user set` stored them.",
        response: { 200: UserGit, ...errors("INVALID_ARGUMENT", "UNAUTHENTICATED", "FORBIDDEN") },
      },
    },
    async (req) => service().get(requestActor(req)),
  );

  app.put<{ Body: Body }>(
    PATH,
    {
      schema: {
        operationId: "setUserGit",
        tags,
        summary:
          "Set your git name, email and dotfiles repository for environments made from repositories (null clears a field).",
        body: Body,
        response: { 200: UserGit, ...errors("INVALID_ARGUMENT", "UNAUTHENTICATED", "FORBIDDEN") },
      },
    },
    async (req) => service().set(requestActor(req), req.body),
  );
}

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Assert<T extends true> = T;
export type _Checks = [Assert<Same<Static<typeof UserGit>, UserGitT>>];
