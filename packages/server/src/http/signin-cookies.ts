// The cookies of the sign-in pages (routes-auth.ts). Both are HttpOnly, Secure when the browser
// reaches Warren over https, and short-lived; neither authenticates anything by itself.
// - One per browser flow, named after its state: holds the random binding whose digest the flow
//   row keeps, so the provider's redirect is accepted only in the browser that started the flow.
//   SameSite=Lax, because that redirect is a top-level navigation from the provider's site.
//   Named per flow so that sign-ins started in two tabs do not overwrite each other.
// - One for the device-code confirmation page: a random value also placed in the page's form, so
//   only a submission of the page this browser was shown starts the sign-in; a link or form on
//   another site cannot. SameSite=Strict: the submission comes from Warren's own page.
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { FastifyReply, FastifyRequest } from "fastify";

export const CONFIRM_COOKIE = "warren_device_confirm";

export interface CookieScope {
  path: string;
  secure: boolean;
  maxAgeS: number;
  sameSite: "Lax" | "Strict";
}

/** The cookie that carries a browser flow's binding; derived from its state, which comes back. */
export function flowCookieName(state: string): string {
  return `warren_signin_${createHash("sha256").update(state).digest("hex").slice(0, 16)}`;
}

/** A host-only (no Domain) HttpOnly Set-Cookie value. */
export function cookieString(name: string, value: string, s: CookieScope): string {
  const attrs = [
    `${name}=${value}`,
    `Path=${s.path}`,
    `Max-Age=${s.maxAgeS}`,
    "HttpOnly",
    `SameSite=${s.sameSite}`,
  ];
  if (s.secure) attrs.push("Secure");
  return attrs.join("; ");
}

export function setCookie(reply: FastifyReply, name: string, value: string, s: CookieScope): void {
  reply.header("set-cookie", cookieString(name, value, s)); // fastify appends repeated set-cookie headers
}

export function clearCookie(reply: FastifyReply, name: string, s: Omit<CookieScope, "maxAgeS">): void {
  setCookie(reply, name, "", { ...s, maxAgeS: 0 });
}

/** A cookie's value from the request, or undefined. Values here are base64url, never quoted. */
export function readCookie(req: FastifyRequest, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? "").split(";")) {
    const i = part.indexOf("=");
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim() || undefined;
  }
  return undefined;
}

export const newConfirmToken = (): string => randomBytes(24).toString("base64url");

/** Constant-time equality of the form's token and the cookie's. */
export function tokensMatch(a: string | undefined, b: string | undefined): boolean {
  if (!a || !b) return false;
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
