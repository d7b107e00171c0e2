// The wire between replicas for the ingress's streams (the SSH gateway's sessions and forwards,
// the port proxy's upstream connections) when another replica holds the environment's runner.
//
// These callers carry no bearer token the holder could check again (an SSH key login, a port
// proxy cookie), so the relaying replica names them instead: the user, their organisation and the
// credential they came with (the SSH key's id, or the API token behind a port session), plus the
// environment and the operation. Only a replica with a cluster-CA certificate can say this at all
// (the internal listener demands one), and even then it is only a claim of identity: the holder
// reads every right from the store itself (relay/ingress-authorize.ts).
//
// A call is a WebSocket upgrade on the internal listener: GET INGRESS_PATH + "dial" or "exec",
// the call as base64url JSON in INGRESS_CALL_HEADER, an exec's request in the query (as the
// public exec route's). Dial streams use the port-forward framing, exec the exec framing.
import { Type } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import { WarrenError } from "@warren/protocol";

export const INGRESS_PATH = "/internal/v1/ingress/";
export const INGRESS_CALL_HEADER = "x-warren-ingress-call";
/** A header of more than this is refused before it is parsed. */
const MAX_CALL_BYTES = 4096;

const Id = Type.String({ minLength: 1, maxLength: 128, pattern: "^[A-Za-z0-9._:-]+$" });

const UserCaller = Type.Object(
  {
    kind: Type.Literal("user"),
    userId: Id,
    orgId: Id,
    /** The registered key an SSH login used. */
    sshKeyId: Type.Optional(Id),
    /** The API token behind a port session (absent for an OIDC sign-in). */
    tokenId: Type.Optional(Id),
  },
  { additionalProperties: false },
);
const AnonymousCaller = Type.Object({ kind: Type.Literal("anonymous") }, { additionalProperties: false });

export const IngressCallSchema = Type.Object(
  {
    caller: Type.Union([UserCaller, AnonymousCaller]),
    envId: Id,
    /** Whose rules apply: an SSH login's (exec's: owner or admin) or the port proxy's (the port's visibility). */
    via: Type.Union([Type.Literal("ssh"), Type.Literal("proxy")]),
    /** Dial only: the TCP port inside the environment. */
    port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })),
    /** Dial only, SSH only: the address inside the environment (an IP literal or localhost). */
    host: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
  },
  { additionalProperties: false },
);

export type IngressCaller =
  | { kind: "anonymous" }
  | {
      kind: "user";
      userId: string;
      orgId: string;
      sshKeyId?: string;
      tokenId?: string;
    };

export interface IngressCall {
  caller: IngressCaller;
  envId: string;
  via: "ssh" | "proxy";
  port?: number;
  host?: string;
}

export function encodeCall(c: IngressCall): string {
  return Buffer.from(JSON.stringify(c)).toString("base64url");
}

/** The call a peer sent, or INVALID_ARGUMENT saying what is wrong with it. */
export function parseCall(header: string | string[] | undefined): IngressCall {
  if (typeof header !== "string" || header.length === 0 || header.length > MAX_CALL_BYTES) {
    throw new WarrenError(
      "INVALID_ARGUMENT",
      `an ingress relay needs one ${INGRESS_CALL_HEADER} header of at most ${MAX_CALL_BYTES} bytes`,
    );
  }
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(header, "base64url").toString("utf8"));
  } catch {
    v = undefined;
  }
  if (!Value.Check(IngressCallSchema, v)) {
    const first = v === undefined ? undefined : [...Value.Errors(IngressCallSchema, v)][0];
    throw new WarrenError(
      "INVALID_ARGUMENT",
      `invalid ingress relay call${first ? ` at ${first.path || "/"}: ${first.message}` : ": not base64url JSON"}`,
    );
  }
  return v as IngressCall;
}
