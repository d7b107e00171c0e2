// The dashboard's one way to the control plane: a typed client for the public /api/v1 (types
// generated from the server's OpenAPI document), the session's CSRF header on every request, and
// the error catalog's message for anything that fails. The session cookie is HttpOnly, so the
// page never sees it; the CSRF token comes from GET /api/v1/auth/dashboard/session and is kept in
// memory only (never in a URL or in storage).
import createClient, { type Middleware } from "openapi-fetch";
import type { components, paths } from "./api-schema.d.ts";

export type Schemas = components["schemas"];
export type Environment = Schemas["Environment"];
export type ErrorBody = Schemas["ErrorBody"];

/** The JSON body of a request, e.g. RequestBody<"/api/v1/environments", "post">. */
export type RequestBody<P extends keyof paths, M extends keyof paths[P]> = paths[P][M] extends {
  requestBody?: { content: { "application/json": infer B } };
}
  ? B
  : never;

export const CSRF_HEADER = "X-Warren-CSRF";

let csrfToken: string | undefined;
const unauthenticatedListeners = new Set<() => void>();

/** Set (on sign-in or page load) or clear (on sign-out) the session's CSRF token. */
export function setCsrf(token: string | undefined): void {
  csrfToken = token;
}
export function csrf(): string | undefined {
  return csrfToken;
}

/** Called whenever the server answers 401: the session ended (signed out, revoked, expired). */
export function onUnauthenticated(listener: () => void): () => void {
  unauthenticatedListeners.add(listener);
  return () => unauthenticatedListeners.delete(listener);
}
function notifyUnauthenticated(): void {
  for (const l of unauthenticatedListeners) l();
}

/** Headers every request carries: the CSRF token (when signed in) and a JSON accept. */
export function apiHeaders(extra?: HeadersInit): Headers {
  const h = new Headers(extra);
  if (csrfToken !== undefined) h.set(CSRF_HEADER, csrfToken);
  if (!h.has("Accept")) h.set("Accept", "application/json");
  return h;
}

const csrfMiddleware: Middleware = {
  onRequest({ request }) {
    if (csrfToken !== undefined) request.headers.set(CSRF_HEADER, csrfToken);
    return request;
  },
  onResponse({ response, request }) {
    // The session probe's 401 is the ordinary "not signed in" answer, not a session that ended.
    if (response.status === 401 && !request.url.endsWith("/auth/dashboard/session")) notifyUnauthenticated();
    return response;
  },
};

/** The typed client: `api.GET("/api/v1/environments")` returns `{ data, error, response }`. */
export const api = createClient<paths>({ baseUrl: "", credentials: "same-origin" });
api.use(csrfMiddleware);

/** An error the API answered with: the catalog's code and its message (what to do about it). */
export class ApiError extends Error {
  readonly code: string;
  readonly status: number;
  readonly details: Record<string, unknown> | undefined;
  constructor(status: number, body: { code: string; message: string; details?: Record<string, unknown> }) {
    super(body.message);
    this.name = "ApiError";
    this.code = body.code;
    this.status = status;
    this.details = body.details;
  }
}

function isErrorBody(v: unknown): v is ErrorBody {
  return (
    typeof v === "object" &&
    v !== null &&
    typeof (v as { code?: unknown }).code === "string" &&
    typeof (v as { message?: unknown }).message === "string"
  );
}

/** The ApiError for a failed response's body (or a generic one naming the status). */
export function toApiError(status: number, body: unknown): ApiError {
  if (isErrorBody(body)) return new ApiError(status, body);
  return new ApiError(status, {
    code: status === 401 ? "UNAUTHENTICATED" : "HTTP_ERROR",
    message: `The server answered ${status} without an explanation; try again, or check the daemon's log.`,
  });
}

/**
 * The data of an openapi-fetch result, or a thrown ApiError carrying the catalog's message:
 *   const envs = await unwrap(api.GET("/api/v1/environments"));
 */
export async function unwrap<T>(
  call: Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<NonNullable<T>> {
  const { data, error, response } = await call;
  if (!response.ok) throw toApiError(response.status, error);
  return data as NonNullable<T>;
}

/**
 * A raw fetch of an /api/v1 path with the session's headers, for the answers openapi-fetch does
 * not parse: SSE watches and streaming logs (read with readSse in sse.ts). Throws ApiError when
 * the answer is not 2xx.
 */
export async function apiFetch(path: string, init: RequestInit = {}): Promise<Response> {
  const res = await fetch(path, { ...init, credentials: "same-origin", headers: apiHeaders(init.headers) });
  if (!res.ok) {
    if (res.status === 401) notifyUnauthenticated();
    const body: unknown = await res.json().catch(() => undefined);
    throw toApiError(res.status, body);
  }
  return res;
}

/** What to show a person for any error: the catalog's message, never a stack. */
export function errorMessage(err: unknown): string {
  if (err instanceof ApiError) return err.message;
  if (isErrorBody(err)) return err.message;
  if (err instanceof DOMException && err.name === "AbortError") return "The request was cancelled.";
  // fetch() rejects with a TypeError only when the network failed (no answer at all).
  if (err instanceof TypeError)
    return "Could not reach the Warren control plane; check the connection and retry.";
  if (err instanceof Error && err.message) return err.message;
  return "Something went wrong; try again.";
}
