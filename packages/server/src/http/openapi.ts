// The OpenAPI 3.1 document, generated from the routes fastify actually registered (collected by
// an onRoute hook in build()), so a new endpoint is documented by declaring its schema. TypeBox
// schemas are JSON Schema 2020-12, which OpenAPI 3.1 uses as is; the only rewrite is swapping
// shared types (COMPONENTS) for $refs.
import { Type } from "@sinclair/typebox";
import { API_PREFIX } from "@warren/protocol";
import type { FastifyInstance } from "fastify";
import { COMPONENTS, errors } from "./schemas-response.ts";

// The documentation keys routes put next to their schemas; fastify itself ignores them.
declare module "fastify" {
  interface FastifySchema {
    operationId?: string;
    tags?: string[];
    summary?: string;
    description?: string;
    /** A query documented here but checked by the handler (exec reports errors in-band). */
    "x-query"?: unknown;
  }
}

/** What openapi.ts reads from a fastify route's options. */
export interface RouteDoc {
  method: string | string[];
  url: string;
  schema?: unknown;
}
type Json = Record<string, unknown>;

export const OPENAPI_PATH = `${API_PREFIX}/openapi.json`;
const DOC_METHODS = new Set(["GET", "POST", "PUT", "PATCH", "DELETE"]);
const TAGS = [
  { name: "system", description: "Daemon health, runner facts and this document." },
  { name: "environments", description: "Create, inspect, resize, start, stop and delete environments." },
  { name: "classes", description: "Resource classes environments are created from." },
  { name: "images", description: "The runner's image store." },
  { name: "registries", description: "Registry logins used to pull images." },
  { name: "secrets", description: "Environment secrets (write-only values) and key rotation." },
  { name: "ssh-keys", description: "Users' SSH public keys for the SSH gateway." },
  { name: "dns", description: "The runner's DNS resolver." },
  { name: "identity", description: "Who is calling, API tokens and organisation membership." },
  { name: "auth", description: "Sign-in through OIDC and Warren's device-code flow (public)." },
  { name: "audit", description: "The audit log and organisation quotas." },
  { name: "users", description: "The calling user's own settings: git identity and dotfiles." },
  {
    name: "usage",
    description: "Environment time and allocated resources over a period, with measured CPU.",
  },
  { name: "fleet", description: "The organisation's runners: cordon, uncordon and drain them (admins)." },
];

export function openApiDocument(routes: readonly RouteDoc[], version: string): Json {
  const refs = new Map<unknown, string>(Object.entries(COMPONENTS).map(([name, s]) => [s, name]));
  const paths: Record<string, Json> = {};
  for (const r of routes) {
    const methods = (Array.isArray(r.method) ? r.method : [r.method]).filter((m) => DOC_METHODS.has(m));
    if (methods.length === 0) continue;
    // The runner protocol (/api/runner/v1) is a separate API with its own tokens; not documented here.
    if (!r.url.startsWith(`${API_PREFIX}/`)) continue;
    // fastify's :param is OpenAPI's {param}.
    const path = r.url.replace(/:([A-Za-z0-9_]+)/g, "{$1}");
    for (const m of methods) {
      paths[path] ??= {};
      paths[path][m.toLowerCase()] = operation(m, path, (r.schema ?? {}) as Json, refs);
    }
  }
  const components = Object.fromEntries(
    Object.entries(COMPONENTS).map(([name, s]) => [name, toDoc(s, refs, s)]),
  );
  return {
    openapi: "3.1.0",
    info: {
      title: "Warren",
      version,
      description:
        "Isolated developer environments on plain Linux hosts. Every non-2xx JSON body is an ErrorBody; " +
        "its `code` is one of ErrorCode (listed with statuses in components.schemas.ErrorCode).",
    },
    tags: TAGS,
    paths,
    components: { schemas: components },
  };
}

function operation(method: string, path: string, schema: Json, refs: Map<unknown, string>): Json {
  const op: Json = {
    operationId: schema["operationId"] ?? operationIdFor(method, path),
    tags: schema["tags"] ?? [],
  };
  for (const k of ["summary", "description"]) if (schema[k] !== undefined) op[k] = schema[k];
  const parameters = [
    ...paramsOf(schema["params"], "path", refs),
    ...paramsOf(schema["querystring"], "query", refs),
    // Documented but validated by the handler itself (exec reports bad queries in-band).
    ...paramsOf(schema["x-query"], "query", refs),
  ];
  if (parameters.length > 0) op["parameters"] = parameters;
  if (schema["body"]) op["requestBody"] = requestBody(schema["body"] as Json, refs);
  const responses: Record<string, Json> = {};
  for (const [status, s] of Object.entries((schema["response"] ?? {}) as Record<string, Json>)) {
    responses[status] = response(status, s, refs);
  }
  op["responses"] =
    Object.keys(responses).length > 0 ? responses : { default: { description: "Undocumented" } };
  return op;
}

function operationIdFor(method: string, path: string): string {
  const words = path
    .slice(API_PREFIX.length)
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean);
  return method.toLowerCase() + words.map((w) => w[0]!.toUpperCase() + w.slice(1)).join("");
}

function paramsOf(schema: unknown, where: "path" | "query", refs: Map<unknown, string>): Json[] {
  if (!schema) return [];
  const s = schema as { properties?: Record<string, Json>; required?: string[] };
  return Object.entries(s.properties ?? {}).map(([name, p]) => ({
    name,
    in: where,
    required: where === "path" || (s.required ?? []).includes(name),
    schema: toDoc(p, refs),
  }));
}

// An optional body is a union with null (StopBody, BaseImageBody): document the object, not required.
function requestBody(body: Json, refs: Map<unknown, string>): Json {
  const variants = (body["anyOf"] as Json[] | undefined) ?? [body];
  const nonNull = variants.filter((v) => v["type"] !== "null");
  const required = nonNull.length === variants.length;
  const schema = required ? body : nonNull.length === 1 ? nonNull[0]! : { anyOf: nonNull };
  return { required, content: { "application/json": { schema: toDoc(schema, refs) } } };
}

function response(status: string, s: Json, refs: Map<unknown, string>): Json {
  const description = (s["description"] as string | undefined) ?? (status.startsWith("2") ? "OK" : "Error");
  if (s["content"]) {
    const content = Object.fromEntries(
      Object.entries(s["content"] as Record<string, { schema: unknown }>).map(([type, c]) => [
        type,
        { schema: toDoc(c.schema, refs) },
      ]),
    );
    return { description, content };
  }
  if (status === "204" || status === "101" || s["type"] === "null") return { description };
  return { description, content: { "application/json": { schema: toDoc(s, refs) } } };
}

/** A plain-JSON copy of a TypeBox schema with shared types as $refs (symbol keys fall away). */
function toDoc(node: unknown, refs: Map<unknown, string>, self?: unknown): unknown {
  if (Array.isArray(node)) return node.map((n) => toDoc(n, refs));
  if (node === null || typeof node !== "object") return node;
  const name = refs.get(node);
  if (name !== undefined && node !== self) return { $ref: `#/components/schemas/${name}` };
  return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, toDoc(v, refs)]));
}

export function openApiRoutes(app: FastifyInstance, routes: readonly RouteDoc[], version: string): void {
  let doc: Json | undefined;
  app.get(
    OPENAPI_PATH,
    {
      schema: {
        operationId: "openApiDocument",
        tags: ["system"],
        summary: "This OpenAPI 3.1 document.",
        response: {
          200: Type.Object({ openapi: Type.String() }, { additionalProperties: true }),
          ...errors(),
        },
      },
    },
    // Built on first request: by then every route has been registered.
    async () => {
      doc ??= openApiDocument(routes, version);
      return doc;
    },
  );
}
