// Token secrets: generation, hashing and expiry policy. Pure functions, no store access.
//
// Tokens are 32 random bytes in base62 behind a `wrn_` prefix (`wrn_r_` for runner tokens), so
// secret scanners can find leaked ones and a glance tells the two kinds apart. Only a SHA-256 of
// the token is stored: with 256 bits of entropy a slow password hash would add nothing, and a fast
// hash lets every call check the token against the store (no cache, so revocation is immediate).
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import {
  RUNNER_TOKEN_PREFIX,
  TOKEN_PREFIX,
  TOKEN_SCOPES,
  type TokenScope,
  WarrenError,
} from "@warren/protocol";
import type { Queryable } from "../store/queries/envs.ts";
import { getQuotaRow } from "../store/queries/quotas.ts";
import type { TokenKind } from "../store/schema-identity.ts";

const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
export const DEFAULT_TOKEN_DAYS = 30;
const DAY_MS = 86_400_000;

export function base62(bytes: Uint8Array): string {
  let n = BigInt(`0x${Buffer.from(bytes).toString("hex") || "0"}`);
  let out = "";
  while (n > 0n) {
    out = BASE62[Number(n % 62n)] + out;
    n /= 62n;
  }
  // Fixed width (43 digits hold 256 bits), so every token has the same length.
  return out.padStart(43, "0");
}

export function newTokenSecret(kind: TokenKind): string {
  return (kind === "runner" ? RUNNER_TOKEN_PREFIX : TOKEN_PREFIX) + base62(randomBytes(32));
}

export function hashToken(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}

/** Constant-time comparison of a presented token's hash with a stored one. */
export function hashesEqual(a: string, b: string): boolean {
  const x = Buffer.from(a, "hex");
  const y = Buffer.from(b, "hex");
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The kind a token's shape claims; the stored row decides, this only rejects junk early. */
export function tokenShape(token: string): TokenKind | undefined {
  if (!/^wrn_(r_)?[0-9A-Za-z]{43}$/.test(token)) return undefined;
  return token.startsWith(RUNNER_TOKEN_PREFIX) ? "runner" : "user";
}

/** The most days a token may live: WARREN_TOKEN_MAX_DAYS (set by the host's admin), else 30. */
export function maxTokenDays(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env["WARREN_TOKEN_MAX_DAYS"];
  if (raw === undefined || raw === "") return DEFAULT_TOKEN_DAYS;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) {
    throw new WarrenError(
      "INVALID_ARGUMENT",
      `WARREN_TOKEN_MAX_DAYS must be a whole number of days >= 1, not "${raw}"`,
    );
  }
  return n;
}

/** The longest a new token of the organisation may live: its admins' limit within the server's. */
export async function orgTokenMaxDays(
  db: Queryable,
  orgId: string,
  env?: NodeJS.ProcessEnv,
): Promise<number> {
  const server = maxTokenDays(env);
  const own = (await getQuotaRow(db, orgId))?.token_max_days ?? null;
  return own === null ? server : Math.min(own, server);
}

export function expiryFor(now: Date, requestedDays: number | undefined, maxDays: number): string {
  const days = requestedDays ?? Math.min(DEFAULT_TOKEN_DAYS, maxDays);
  if (!Number.isInteger(days) || days < 1 || days > maxDays) {
    throw new WarrenError(
      "INVALID_ARGUMENT",
      `expiresInDays must be a whole number from 1 to ${maxDays} (the longest your organisation allows); got ${requestedDays}`,
      { field: "expiresInDays", max: maxDays },
    );
  }
  return new Date(now.getTime() + days * DAY_MS).toISOString();
}

/**
 * The scopes a new token asks for, checked: known names, no repeats, user tokens only. A token
 * made with a scoped token keeps within its parent's scopes, so narrowing can never be undone.
 */
export function checkScopes(
  requested: readonly string[] | undefined,
  kind: TokenKind,
  parentScopes: readonly TokenScope[],
): TokenScope[] {
  const scopes = [...new Set(requested ?? [])];
  for (const s of scopes) {
    if (!(TOKEN_SCOPES as readonly string[]).includes(s)) {
      throw new WarrenError(
        "INVALID_ARGUMENT",
        `unknown token scope "${s}"; known scopes: ${TOKEN_SCOPES.join(", ")} (omit scopes for full access)`,
        { field: "scopes" },
      );
    }
  }
  if (scopes.length > 0 && kind === "runner") {
    throw new WarrenError("INVALID_ARGUMENT", "runner tokens take no scopes; remove them", {
      field: "scopes",
    });
  }
  if (
    parentScopes.length > 0 &&
    (scopes.length === 0 || scopes.some((s) => !parentScopes.includes(s as TokenScope)))
  ) {
    throw new WarrenError(
      "FORBIDDEN",
      `a token scoped to ${parentScopes.join(", ")} can only create tokens within those scopes`,
    );
  }
  return scopes as TokenScope[];
}

/** Stored form (migration 028): space-separated, "" for full access. */
export function scopesFromColumn(col: string | null | undefined): TokenScope[] {
  return (col ?? "")
    .split(" ")
    .filter((s): s is TokenScope => (TOKEN_SCOPES as readonly string[]).includes(s));
}
