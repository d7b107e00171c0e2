// Who acts: the first parameter of every service method. Nothing reads identity from ambient
// context; a handler, a controller or a test says who it acts as, and a service called without
// an actor refuses (NoActorError) instead of guessing.
//
// - A user: a member of one organisation with a role. `via` says how they authenticated; a user
//   acting through an API token carries `tokenId`, which is what "a token" means as an actor
//   (revoking it must end what it started, and a token may only mint tokens within its lineage).
// - A runner: a host agent of one organisation, authenticated by a runner token. It is sent its
//   organisation's environments; through the services it sees nothing (services/scope.ts).
// - The system: work nobody asked for in a request (the reconciler, the resync, startup, retention
//   sweeps, secret delivery to a runner), named for its job so logs and audits can say which.
//   Only the system sees every organisation.
//
// What each kind may see and do lives in services/scope.ts; this file only names them.
import type { Role, TokenScope } from "@warren/protocol";
import { WarrenError } from "@warren/protocol";

export interface UserActor {
  kind: "user";
  userId: string;
  orgId: string;
  role: Role;
  via: "local-socket" | "token";
  /** The API token the request came with (absent for root on the local socket). */
  tokenId?: string;
  /** The token's scopes when it is narrowed (http/auth.ts enforces them); absent: full access. */
  scopes?: readonly TokenScope[];
}

export interface RunnerActor {
  kind: "runner";
  orgId: string;
  /** The runner token; it also names the runner (one connection per token). */
  tokenId: string;
}

export interface SystemActor {
  kind: "system";
  /** What the system is doing, e.g. "controller", "resync", "startup", "secret-delivery". */
  job: string;
}

export type Actor = UserActor | RunnerActor | SystemActor;

/** A caller that authenticated (http/auth.ts): the system never arrives over HTTP. */
export type Principal = UserActor | RunnerActor;

/** The system acting for `job`. */
export function system(job: string): SystemActor {
  if (!job) throw new Error("a system actor must be named for its job");
  return Object.freeze({ kind: "system", job });
}

/** A service was called without saying who acts: refused, never read as "everything". */
export class NoActorError extends WarrenError {
  constructor(what: string) {
    super(
      "UNAUTHENTICATED",
      `${what} was called without an actor; every service call must say who acts (a user, a runner or the system)`,
    );
    this.name = "NoActorError";
  }
}

const KINDS = new Set(["user", "runner", "system"]);

/** The actor itself, or NoActorError when it is missing or not one (a cast undefined, a stray object). */
export function requireActor(a: Actor | null | undefined, what = "a service"): Actor {
  if (typeof a !== "object" || a === null || !KINDS.has((a as { kind?: unknown }).kind as string)) {
    throw new NoActorError(what);
  }
  if (a.kind === "system") {
    if (typeof a.job !== "string" || a.job === "") throw new NoActorError(what);
  } else if (typeof a.orgId !== "string" || a.orgId === "") {
    throw new NoActorError(what);
  }
  if (a.kind === "user" && (typeof a.userId !== "string" || a.userId === "")) throw new NoActorError(what);
  return a;
}

/** The user behind a call that only a user can make (tokens, membership, whoami). */
export function requireUser(a: Actor | null | undefined, what: string): UserActor {
  const actor = requireActor(a, what);
  if (actor.kind !== "user") {
    throw new WarrenError("FORBIDDEN", `${what} needs a user; it was called as ${describeActor(actor)}`);
  }
  return actor;
}

/** How an actor appears in logs and error messages. */
export function describeActor(a: Actor): string {
  if (a.kind === "system") return `system:${a.job}`;
  if (a.kind === "runner") return `runner:${a.tokenId}`;
  return a.via === "local-socket" ? "local-root" : `user:${a.userId}`;
}
