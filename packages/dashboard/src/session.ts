// The dashboard session (sign-in, the page-load probe, sign-out). The cookie itself is HttpOnly
// and host-only, set by the server; what the page keeps is the CSRF token (in memory, via
// setCsrf) and who is signed in, for the nav (admin pages only for admins and owners; the
// server refuses them to anyone else anyway).
import { createContext } from "preact";
import { useContext } from "preact/hooks";
import { apiFetch, setCsrf, toApiError } from "./api.ts";

export interface Session {
  csrf: string;
  user: string;
  org: string;
  role: string;
  via?: string;
}

export const SESSION_PATH = "/api/v1/auth/dashboard/session";

export function isAdmin(s: Pick<Session, "role"> | undefined): boolean {
  return s?.role === "admin" || s?.role === "owner";
}

function parseSession(v: unknown): Session {
  const s = v as Partial<Session> | null;
  if (!s || typeof s.csrf !== "string" || typeof s.user !== "string") {
    throw new Error("The server's session answer is malformed; reload the page.");
  }
  return {
    csrf: s.csrf,
    user: s.user,
    org: String(s.org ?? ""),
    role: String(s.role ?? "member"),
    via: s.via,
  };
}

let oidcConfigured = false;
/** Whether the server offers OIDC sign-in (said in the session probe's 401, details.oidc). */
export const oidcAvailable = (): boolean => oidcConfigured;

/** The current session, or undefined when the browser has none (401). */
export async function loadSession(): Promise<Session | undefined> {
  const res = await fetch(SESSION_PATH, {
    credentials: "same-origin",
    headers: { Accept: "application/json" },
  });
  if (res.status === 401) {
    setCsrf(undefined);
    const body = (await res.json().catch(() => undefined)) as { details?: { oidc?: unknown } } | undefined;
    oidcConfigured = body?.details?.oidc === true;
    return undefined;
  }
  if (!res.ok) throw toApiError(res.status, await res.json().catch(() => undefined));
  const s = parseSession(await res.json());
  setCsrf(s.csrf);
  return s;
}

/** Exchanges an API token (pasted once) for the session cookie; the token is not kept. */
export async function signIn(token: string): Promise<Session> {
  const res = await apiFetch(SESSION_PATH, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ token }),
  });
  const s = parseSession(await res.json());
  setCsrf(s.csrf);
  return s;
}

export async function signOut(): Promise<void> {
  try {
    await apiFetch("/api/v1/auth/dashboard/signout", { method: "POST" });
  } finally {
    setCsrf(undefined);
  }
}

export interface SessionContextValue {
  session: Session | undefined;
  /** Ends the session in the page (after sign-out or a 401). */
  signedOut(): void;
}
export const SessionContext = createContext<SessionContextValue>({ session: undefined, signedOut: () => {} });
export const useSession = (): SessionContextValue => useContext(SessionContext);
