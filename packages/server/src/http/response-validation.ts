// Opt-in check that every /api/v1 response is what the served OpenAPI document promises (issue 5):
// the status is documented for the route, a JSON body matches the documented schema for it, and an
// error's code is one the document names for that status (or one any route can answer).
// It compiles the document itself (openApiDocument over the routes build() collected), not the
// routes' TypeBox schemas, so anything the document leaves out fails here too. Tests turn it on
// (scripts/run-tests.ts sets WARREN_VALIDATE_RESPONSES=1, which e2e daemons inherit); a violation
// is logged at error level and the reply becomes a 500 INTERNAL, so the test that caused it fails.
//
// What is not checked, and why:
// - 101 WebSocket upgrades (exec): the upgrade never reaches onSend or a status a client sees as a
//   reply; the frames are the exec-stream protocol, not OpenAPI.
// - Bodies of streams (NDJSON image operations, text logs): the 200 is committed before the stream
//   is produced, so its lines cannot be turned into a 500; only the status and content type are checked.
// - Hijacked replies (the SSE watch writes its own head): onSend never runs, so onResponse checks
//   the status and content type afterwards and can only log; a response on the wire cannot change.
// - Responses outside /api/v1 (the runner protocol, the dashboard): not part of this document.
import { Readable } from "node:stream";
import { API_PREFIX, type ErrorBody } from "@warren/protocol";
import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { openApiDocument, type RouteDoc } from "./openapi.ts";

export const VALIDATE_RESPONSES_ENV = "WARREN_VALIDATE_RESPONSES";

/** On when asked for explicitly, else when the environment says so (tests, e2e daemons). */
export function responseValidationEnabled(explicit: boolean | undefined): boolean {
  return explicit ?? process.env[VALIDATE_RESPONSES_ENV] === "1";
}

type Json = Record<string, unknown>;
type Responses = Record<string, { content?: Record<string, { schema: unknown }> }>;
type Doc = { paths: Record<string, Record<string, { responses: Responses }>> };

const DOC_ID = "urn:warren:openapi";
const JSON_TYPE = "application/json";

/** Validators for one document, compiled on first use of each response. */
export interface ResponseChecker {
  /** The first way the response breaks the document, or undefined when it conforms. */
  check(
    method: string,
    url: string | undefined,
    status: number,
    type: string,
    body: unknown,
  ): string | undefined;
}

export function createResponseChecker(doc: Json): ResponseChecker {
  // strict: an unknown keyword in a response schema is a schema bug, not something to ignore.
  const ajv = new Ajv2020({ strict: true, allErrors: false, validateFormats: false });
  ajv.addKeyword({ keyword: "x-error-codes" });
  ajv.addKeyword({ keyword: "x-any-route-codes" });
  // The document's own top-level fields, so the document can serve as the root the $refs point into.
  for (const keyword of ["openapi", "info", "tags", "paths", "components"]) ajv.addKeyword({ keyword });
  ajv.addSchema({ ...doc, $id: DOC_ID }, DOC_ID, undefined, false);
  const compiled = new Map<string, ValidateFunction>();
  const validator = (pointer: string): ValidateFunction => {
    let v = compiled.get(pointer);
    if (!v) {
      v = ajv.compile({ $ref: `${DOC_ID}#${pointer}` });
      compiled.set(pointer, v);
    }
    return v;
  };
  const paths = (doc as Doc).paths;
  const errorBody = validator("/components/schemas/ErrorBody");

  return {
    check(method, url, status, type, body) {
      const m = method === "HEAD" ? "get" : method.toLowerCase();
      if (url === undefined) {
        // No route matched (the not-found handler): the body must still be an ErrorBody.
        return status >= 400 && type === JSON_TYPE ? firstError(errorBody, body) : undefined;
      }
      const path = url.replace(/:([A-Za-z0-9_]+)/g, "{$1}");
      const op = paths[path]?.[m];
      if (!op) return "the route is not in the document";
      // "default" documents the errors a route has no code of its own for (fastify's 413/415);
      // it never stands in for a success status, which must each be listed.
      const key = String(status) in op.responses ? String(status) : status >= 400 ? "default" : undefined;
      const documented = key === undefined ? undefined : op.responses[key];
      if (key === undefined || !documented) return "status is not documented";
      const content = documented.content;
      if (!content)
        return body === undefined || body === "" ? undefined : "a body where the document has none";
      // A body that is not checked (a stream) still has to be of a documented type.
      if ((body !== undefined || type !== "") && !(type in content))
        return `content type ${type || "(none)"} is not documented (${Object.keys(content).join(", ")})`;
      if (body === undefined || type !== JSON_TYPE) return undefined;
      const pointer = `/paths/${esc(path)}/${m}/responses/${key}/content/${esc(JSON_TYPE)}/schema`;
      const bad = firstError(validator(pointer), body);
      if (bad !== undefined || status < 400) return bad;
      return codeProblem(op.responses, key, status, JSON.parse(String(body)) as { code?: string });
    },
  };
}

const codesAt = (r: Responses[string] | undefined, ext: string): string[] | undefined =>
  (r?.content?.[JSON_TYPE]?.schema as Json | undefined)?.[ext] as string[] | undefined;

// An error's code must be one the document names for that status (x-error-codes), or one of the
// codes any route can answer (the default response's x-any-route-codes); a route that only falls
// through to "default" for a code of its own has left that failure undocumented.
function codeProblem(
  responses: Responses,
  key: string,
  status: number,
  body: { code?: string },
): string | undefined {
  const code = body.code ?? "";
  const listed = key === "default" ? [] : codesAt(responses[key], "x-error-codes");
  // A hand-written error schema without a code list documents its codes itself.
  if (key !== "default" && listed === undefined) return undefined;
  const anyRoute = codesAt(responses["default"], "x-any-route-codes") ?? [];
  if (listed?.includes(code) || anyRoute.includes(code)) return undefined;
  return `error code ${code} is not documented for status ${status} (${[...(listed ?? []), ...anyRoute].join(", ") || "none"})`;
}

function firstError(v: ValidateFunction, body: unknown): string | undefined {
  let value: unknown;
  try {
    value = typeof body === "string" ? JSON.parse(body) : body;
  } catch {
    return "the body is not JSON";
  }
  if (v(value)) return undefined;
  const e = v.errors?.[0];
  if (!e) return "invalid";
  const extra = e.params as Record<string, unknown>;
  const name = extra["additionalProperty"] ?? extra["missingProperty"];
  return `${e.instancePath || "/"}${name ? ` (${String(name)})` : ""}: ${e.message ?? "invalid"}`;
}

/** A schema the validator cannot compile is the document's fault: report it like a mismatch. */
function safeCheck(run: () => string | undefined): string | undefined {
  try {
    return run();
  } catch (err) {
    return `the document's schema does not compile: ${(err as Error).message}`;
  }
}

const esc = (s: string) => s.replaceAll("~", "~0").replaceAll("/", "~1");

/** The media type alone, without parameters: "text/plain; charset=utf-8" -> "text/plain". */
function mediaType(header: unknown): string {
  return typeof header === "string" ? (header.split(";")[0] ?? "").trim().toLowerCase() : "";
}

const inApi = (req: FastifyRequest) => req.url.startsWith(`${API_PREFIX}/`);
const routeName = (req: FastifyRequest) =>
  `${req.method} ${(req.routeOptions.url ?? req.url.split("?")[0] ?? "").replace(/:([A-Za-z0-9_]+)/g, "{$1}")}`;

/** Registered before the other onSend hooks, so idempotency and audit see the 500 it may make. */
export function installResponseValidation(
  app: FastifyInstance,
  routes: readonly RouteDoc[],
  version: () => string,
): void {
  let checker: ResponseChecker | undefined;
  // Built on first use: by then every route has been registered (as for the served document).
  const get = () => {
    checker ??= createResponseChecker(openApiDocument(routes, version()));
    return checker;
  };

  // Requests whose reply went through onSend; any other finished reply was hijacked.
  const seen = new WeakSet<FastifyRequest>();

  app.addHook("onSend", async (req, reply, payload) => {
    seen.add(req);
    if (!inApi(req)) return payload;
    const streamed = payload instanceof Readable;
    const body = streamed ? undefined : Buffer.isBuffer(payload) ? payload.toString("utf8") : (payload ?? "");
    const problem = safeCheck(() =>
      get().check(
        req.method,
        req.routeOptions.url,
        reply.statusCode,
        mediaType(reply.getHeader("content-type")),
        body,
      ),
    );
    if (problem === undefined) return payload;
    const message = `response does not match the OpenAPI document: ${routeName(req)} ${reply.statusCode}: ${problem}`;
    req.log.error(
      { status: reply.statusCode, problem, body: typeof body === "string" ? body.slice(0, 2000) : undefined },
      message,
    );
    // A stream nobody reads would hold its producer; drain it into nothing.
    if (streamed) payload.resume();
    const out: ErrorBody = { code: "INTERNAL", message };
    // The replacement goes straight out: onSend does not run again, so it cannot recurse.
    reply.code(500).type(JSON_TYPE).removeHeader("content-length");
    return JSON.stringify(out);
  });

  app.addHook("onResponse", async (req, reply) => {
    // Only replies that skipped onSend because the handler wrote its own head (SSE watch), and
    // not WebSocket upgrades (see the top of this file).
    if (seen.has(req) || !inApi(req) || req.headers.upgrade !== undefined) return;
    const status = reply.raw.statusCode;
    const media = mediaType(reply.raw.getHeader("content-type"));
    const problem = safeCheck(() => get().check(req.method, req.routeOptions.url, status, media, undefined));
    if (problem === undefined) return;
    req.log.error(
      { status, problem },
      `response does not match the OpenAPI document: ${routeName(req)} ${status}: ${problem}`,
    );
  });
}
