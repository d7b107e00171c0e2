import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { afterEach, test } from "node:test";
import { buildApp, type Harness, harness } from "@warren/testing/server-harness";
import type { FastifyInstance } from "fastify";
import { check, resolveRef } from "./json-schema-check.ts";

type Json = Record<string, unknown>;
type Op = { operationId: string; parameters?: Json[]; responses: Record<string, Json> };
const METHODS = ["get", "post", "put", "patch", "delete"];

let h: Harness;
let app: FastifyInstance;
afterEach(async () => {
  await app?.close();
  await h?.close();
});

/** The app, every route it registered (seen by our own onRoute hook), and its document. */
async function setup() {
  h = await harness();
  app = buildApp(h);
  const routes: { method: string; url: string }[] = [];
  app.addHook("onRoute", (r) => {
    for (const m of [r.method].flat()) if (m !== "HEAD") routes.push({ method: m, url: r.url });
  });
  const res = await app.inject({ method: "GET", url: "/api/v1/openapi.json" });
  assert.equal(res.statusCode, 200);
  return { routes, doc: res.json() as Json & { paths: Record<string, Record<string, Op>> } };
}

const template = (url: string) => url.replace(/:([A-Za-z0-9_]+)/g, "{$1}");

function walk(node: unknown, visit: (n: Json) => void): void {
  if (Array.isArray(node)) for (const n of node) walk(n, visit);
  else if (node && typeof node === "object") {
    visit(node as Json);
    for (const v of Object.values(node)) walk(v, visit);
  }
}

test("the document is structurally valid OpenAPI 3.1", async () => {
  const { doc } = await setup();
  assert.match(String(doc["openapi"]), /^3\.1\.\d+$/);
  const info = doc["info"] as Json;
  assert.equal(info["title"], "Warren");
  assert.equal(info["version"], "0.1.0");
  const declaredTags = new Set((doc["tags"] as { name: string }[]).map((t) => t.name));
  const ids = new Set<string>();
  for (const [path, item] of Object.entries(doc.paths)) {
    assert.ok(path.startsWith("/api/v1/"), path);
    const inPath = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
    for (const [method, op] of Object.entries(item)) {
      assert.ok(METHODS.includes(method), `${path}: ${method}`);
      assert.ok(!ids.has(op.operationId), `duplicate operationId ${op.operationId}`);
      ids.add(op.operationId);
      for (const t of (op as unknown as { tags: string[] }).tags) assert.ok(declaredTags.has(t), t);
      const pathParams = (op.parameters ?? []).filter((p) => p["in"] === "path");
      assert.deepEqual(pathParams.map((p) => p["name"]).sort(), [...inPath].sort(), `${method} ${path}`);
      for (const p of pathParams) assert.equal(p["required"], true);
      assert.ok(Object.keys(op.responses).length > 0, `${method} ${path} has responses`);
      for (const [status, r] of Object.entries(op.responses)) {
        assert.match(status, /^([1-5]\d\d|default)$/);
        assert.equal(typeof r["description"], "string", `${method} ${path} ${status}`);
        for (const c of Object.values((r["content"] ?? {}) as Record<string, Json>)) assert.ok(c["schema"]);
      }
    }
  }
  let refs = 0;
  walk(doc, (n) => {
    if (typeof n["$ref"] === "string") {
      refs++;
      assert.doesNotThrow(() => resolveRef(doc, n["$ref"] as string), n["$ref"] as string);
    }
  });
  assert.ok(refs > 20, "shared types are referenced, not inlined");
});

test("every error code is documented with its status, and error responses use the shared ErrorBody", async () => {
  const { ERROR_CATALOG } = await import("@warren/protocol");
  const { doc } = await setup();
  const schemas = (doc["components"] as { schemas: Record<string, Json> }).schemas;
  const codes = schemas["ErrorCode"]!;
  const documented = codes["x-error-codes"] as Record<string, { status: number }>;
  for (const [code, e] of Object.entries(ERROR_CATALOG)) {
    assert.equal(documented[code]?.status, e.status, code);
    assert.match(String(codes["description"]), new RegExp(`\`${code}\` \\(${e.status}\\)`));
  }
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const op of Object.values(item)) {
      for (const [status, r] of Object.entries(op.responses)) {
        if (!/^[45]|default/.test(status)) continue;
        const schema = (r["content"] as Record<string, Json>)["application/json"]?.["schema"];
        assert.deepEqual((schema as Json)["allOf"], [{ $ref: "#/components/schemas/ErrorBody" }], path);
        for (const c of ((schema as Json)["x-error-codes"] as string[] | undefined) ?? []) {
          assert.equal(String(ERROR_CATALOG[c as keyof typeof ERROR_CATALOG].status), status, `${path} ${c}`);
        }
      }
    }
  }
});

test("every registered route is in the document, and the protocol route table matches it", async () => {
  const { routes, doc } = await setup();
  assert.ok(routes.length > 20, "the test saw the routes being registered");
  const documented = new Set(
    Object.entries(doc.paths).flatMap(([p, item]) => Object.keys(item).map((m) => `${m.toUpperCase()} ${p}`)),
  );
  // The runner protocol (/api/runner/v1, runner tokens only) is a separate API, not in this document.
  const registered = new Set(
    routes.filter((r) => r.url.startsWith("/api/v1/")).map((r) => `${r.method} ${template(r.url)}`),
  );
  assert.deepEqual([...registered].sort(), [...documented].sort());
  // api.ts's comment table is the contract readers see first: keep it in step.
  const api = readFileSync(new URL("../../protocol/src/api.ts", import.meta.url), "utf8");
  const table = [...api.matchAll(/^\/\/\s+(GET|POST|PUT|PATCH|DELETE)\s+(\/api\/v1\/[^\s?]+)/gm)].map(
    (m) => `${m[1]} ${template(m[2]!)}`,
  );
  assert.deepEqual(new Set(table), documented);
});

test("real responses of a lifecycle validate against the document", async () => {
  const { doc } = await setup();
  let checked = 0;
  const call = async (method: string, url: string, route: string, payload?: unknown) => {
    const res = await app.inject({ method: method as "GET", url, ...(payload ? { payload } : {}) });
    const op = doc.paths[route]?.[method.toLowerCase()];
    assert.ok(op, `${method} ${route} is documented`);
    const r = op.responses[String(res.statusCode)] ?? op.responses["default"];
    assert.ok(r, `${method} ${url}: status ${res.statusCode} is documented`);
    const content = r["content"] as Record<string, { schema: unknown }> | undefined;
    if (!content) {
      assert.equal(res.body, "", `${method} ${url}: undocumented body`);
    } else if (content["application/x-ndjson"]) {
      for (const line of res.body.trim().split("\n")) {
        assert.deepEqual(check(content["application/x-ndjson"].schema, JSON.parse(line), doc), [], line);
      }
    } else {
      const schema = content["application/json"]?.schema;
      assert.ok(schema, `${method} ${url}: ${res.statusCode} is JSON in the document`);
      assert.deepEqual(check(schema, res.json(), doc), [], `${method} ${url} -> ${res.statusCode}`);
    }
    checked++;
    return res;
  };
  const E = "/api/v1/environments";
  await call("GET", "/api/v1/health", "/api/v1/health");
  await call("GET", "/api/v1/runner", "/api/v1/runner");
  assert.equal((await call("POST", E, E, { name: "dev" })).statusCode, 201);
  assert.equal((await call("POST", E, E, { name: "dev" })).statusCode, 200);
  assert.equal((await call("POST", E, E, { name: "dev", cpus: 3 })).statusCode, 409);
  assert.equal((await call("POST", E, E, { name: "dev", bogus: 1 })).statusCode, 400);
  await call("GET", E, E);
  const got = await call("GET", `${E}/dev`, `${E}/{name}`);
  assert.ok(got.json().observed, "the observed block is checked too");
  assert.equal((await call("GET", `${E}/nope`, `${E}/{name}`)).statusCode, 404);
  await call("PATCH", `${E}/dev`, `${E}/{name}`, { pids: 500 });
  await call("GET", `${E}/dev/stats`, `${E}/{name}/stats`);
  await call("GET", "/api/v1/stats", "/api/v1/stats");
  assert.equal((await call("POST", `${E}/dev/stop`, `${E}/{name}/stop`)).json().state, "stopped");
  assert.equal((await call("GET", `${E}/dev/stats`, `${E}/{name}/stats`)).statusCode, 409);
  assert.equal((await call("POST", `${E}/dev/start`, `${E}/{name}/start`)).json().state, "running");
  const C = "/api/v1/classes";
  await call("GET", C, C);
  const cls = { name: "big", cpus: 4, memory: "8g", disk: "50g" };
  assert.equal((await call("POST", C, C, cls)).statusCode, 201);
  assert.equal((await call("POST", C, C, cls)).statusCode, 409);
  assert.equal((await call("DELETE", `${C}/big`, `${C}/{name}`)).statusCode, 204);
  const I = "/api/v1/images";
  await call("GET", I, I);
  await call("POST", `${I}/import`, `${I}/import`, { path: "/tmp/tools.tar", ref: "acme/tools:1" });
  assert.equal((await call("POST", `${I}/import`, `${I}/import`, { path: "rel.tar" })).statusCode, 400);
  await call("POST", `${I}/prune`, `${I}/prune`);
  await call("GET", "/api/v1/dns/stats", "/api/v1/dns/stats");
  await call("GET", "/api/v1/registries", "/api/v1/registries");
  assert.equal((await call("DELETE", `${E}/dev?force=1`, `${E}/{name}`)).statusCode, 204);
  assert.equal(checked, 26);
});

test("the checker rejects what the schemas forbid (so the test above can fail)", async () => {
  const { doc } = await setup();
  const env = { $ref: "#/components/schemas/Environment" };
  const res = await app.inject({ method: "POST", url: "/api/v1/environments", payload: { name: "x" } });
  const good = res.json() as Json;
  assert.deepEqual(check(env, good, doc), []);
  assert.notDeepEqual(check(env, { ...good, state: "sleeping" }, doc), []);
  assert.notDeepEqual(check(env, { ...good, slot: "1" }, doc), []);
  const { spec: _spec, ...noSpec } = good;
  assert.notDeepEqual(check(env, noSpec, doc), []);
  const err = { $ref: "#/components/schemas/ErrorBody" };
  assert.notDeepEqual(check(err, { code: "NOT_A_CODE", message: "x" }, doc), []);
  assert.throws(() => check({ oneOf: [] }, 1, doc), /unsupported keyword/);
});
