// The response validator (http/response-validation.ts) must be able to fail: an undocumented
// status, a body off its schema, an error off ErrorBody and a route missing from the document each
// become a logged 500; conforming replies pass untouched.
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { afterEach, test } from "node:test";
import { Type } from "@sinclair/typebox";
import { WarrenError } from "@warren/protocol";
import { type Harness, harness } from "@warren/testing/server-harness";
import type { FastifyInstance, FastifyReply } from "fastify";
import { build } from "../src/http/build.ts";
import { errors } from "../src/http/schemas-response.ts";
import { createImageService } from "../src/services/images.ts";

let h: Harness | undefined;
let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  await h?.close();
  app = undefined;
  h = undefined;
});

const T = "/api/v1/test";
// Loosely typed on purpose: these routes answer what their schemas do not allow.
const answer = (reply: FastifyReply, status: number, body: unknown) => reply.code(status).send(body);
const Thing = Type.Object({ n: Type.Number() }, { additionalProperties: false });

/** An app with extra routes declared like real ones, and every error-level log line it writes. */
async function setup(validateResponses: boolean | undefined) {
  h = await harness();
  const logs: { level: number; msg: string }[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split("\n").filter(Boolean)) logs.push(JSON.parse(line));
      done();
    },
  });
  const a = build({
    envs: h.envs,
    classes: h.classes,
    images: createImageService({ runner: h.runner }),
    runner: h.runner,
    logger: { level: "error", stream },
    ...(validateResponses === undefined ? {} : { validateResponses }),
  });
  const doc = { response: { 200: Thing, ...errors("ENV_NOT_FOUND") } };
  a.get(`${T}/good`, { schema: doc }, async () => ({ n: 1 }));
  a.get(`${T}/accepted`, { schema: doc }, async (_req, reply) => answer(reply, 202, { n: 1 }));
  a.get(`${T}/bad-body`, { schema: doc }, async () => ({ n: "one" }));
  a.get(`${T}/extra-field`, { schema: doc }, async () => ({ n: 1, leaked: true }));
  a.get(`${T}/bad-error`, { schema: doc }, async (_req, reply) =>
    answer(reply, 404, { code: "NO_SUCH_CODE", message: "x" }),
  );
  a.get(`${T}/good-error`, { schema: doc }, async (_req, reply) =>
    answer(reply, 404, { code: "ENV_NOT_FOUND", message: "no environment" }),
  );
  a.get(`${T}/wrong-code`, { schema: doc }, async () => {
    throw new WarrenError("CLASS_IN_USE", "a code this route does not document");
  });
  a.get(`${T}/any-route-code`, { schema: doc }, async () => {
    throw new WarrenError("UNAUTHENTICATED", "a code every route can answer");
  });
  a.get(`${T}/undocumented`, async () => ({ n: 1 }));
  a.get(`${T}/no-content`, { schema: { response: { 204: Type.Null() } } }, async (_req, reply) =>
    reply.code(204).send(),
  );
  a.get(`${T}/stream`, { schema: { response: { 200: Thing } } }, async (_req, reply) =>
    reply.type("text/plain").send("not json"),
  );
  // Writes its own head, as the SSE watch does: onSend never sees it.
  a.get(`${T}/hijacked`, { schema: doc }, async (_req, reply) => {
    reply.hijack();
    reply.raw.writeHead(202, { "content-type": "text/event-stream" });
    reply.raw.end("data: {}\n\n");
  });
  app = a;
  return { app: a, logs };
}

const violation = (route: string, status: number) =>
  new RegExp(
    `^response does not match the OpenAPI document: GET ${route.replace(/[{}]/g, "\\$&")} ${status}: `,
  );

test("an undocumented status becomes a 500 INTERNAL and is logged at error level", async () => {
  const { app, logs } = await setup(true);
  const res = await app.inject({ method: "GET", url: `${T}/accepted` });
  assert.equal(res.statusCode, 500);
  const body = res.json();
  assert.equal(body.code, "INTERNAL");
  assert.match(body.message, violation(`${T}/accepted`, 202));
  assert.match(body.message, /status is not documented/);
  assert.ok(
    logs.some((l) => l.level === 50 && l.msg === body.message),
    "the violation is logged at error level",
  );
});

test("a body that breaks its schema becomes a 500 naming the field", async () => {
  const { app } = await setup(true);
  const bad = await app.inject({ method: "GET", url: `${T}/bad-body` });
  assert.equal(bad.statusCode, 500);
  assert.match(bad.json().message, violation(`${T}/bad-body`, 200));
  assert.match(bad.json().message, /\/n: must be number/);
  const extra = await app.inject({ method: "GET", url: `${T}/extra-field` });
  assert.equal(extra.statusCode, 500);
  assert.match(extra.json().message, /leaked/);
  assert.match(String(extra.headers["content-type"]), /^application\/json/);
});

test("an error body that is not an ErrorBody becomes a 500; a documented one passes", async () => {
  const { app } = await setup(true);
  const bad = await app.inject({ method: "GET", url: `${T}/bad-error` });
  assert.equal(bad.statusCode, 500);
  assert.match(bad.json().message, violation(`${T}/bad-error`, 404));
  assert.match(bad.json().message, /\/code/);
  const good = await app.inject({ method: "GET", url: `${T}/good-error` });
  assert.equal(good.statusCode, 404);
  assert.deepEqual(good.json(), { code: "ENV_NOT_FOUND", message: "no environment" });
});

test("an error code the route does not document for its status becomes a 500", async () => {
  const { app } = await setup(true);
  const wrong = await app.inject({ method: "GET", url: `${T}/wrong-code` });
  assert.equal(wrong.statusCode, 500);
  assert.match(wrong.json().message, violation(`${T}/wrong-code`, 409));
  assert.match(wrong.json().message, /error code CLASS_IN_USE is not documented for status 409/);
  const any = await app.inject({ method: "GET", url: `${T}/any-route-code` });
  assert.equal(any.statusCode, 401);
  assert.equal(any.json().code, "UNAUTHENTICATED");
});

test("a route with no documented responses, or the wrong content type, fails", async () => {
  const { app } = await setup(true);
  const undoc = await app.inject({ method: "GET", url: `${T}/undocumented` });
  assert.equal(undoc.statusCode, 500);
  assert.match(undoc.json().message, /status is not documented/);
  const text = await app.inject({ method: "GET", url: `${T}/stream` });
  assert.equal(text.statusCode, 500);
  assert.match(text.json().message, /content type text\/plain is not documented/);
});

test("conforming responses pass untouched, including a 204 and real routes", async () => {
  const { app, logs } = await setup(true);
  const good = await app.inject({ method: "GET", url: `${T}/good` });
  assert.equal(good.statusCode, 200);
  assert.equal(good.body, '{"n":1}');
  assert.equal((await app.inject({ method: "GET", url: `${T}/no-content` })).statusCode, 204);
  const health = await app.inject({ method: "GET", url: "/api/v1/health" });
  assert.equal(health.statusCode, 200);
  assert.equal(health.json().ok, true);
  const missing = await app.inject({ method: "GET", url: "/api/v1/environments/nope" });
  assert.equal(missing.statusCode, 404);
  assert.equal(missing.json().code, "ENV_NOT_FOUND");
  // A browser's sign-in refusal is an HTML page, documented beside the JSON error.
  const page = await app.inject({ method: "GET", url: "/api/v1/auth/oidc/callback?code=x&state=y" });
  assert.equal(page.statusCode, 400);
  assert.match(String(page.headers["content-type"]), /^text\/html/);
  const noRoute = await app.inject({ method: "GET", url: "/api/v1/no-such-route" });
  assert.equal(noRoute.statusCode, 404);
  assert.deepEqual(logs, []);
});

test("off unless asked for; WARREN_VALIDATE_RESPONSES=1 turns it on", async () => {
  const saved = process.env["WARREN_VALIDATE_RESPONSES"];
  try {
    process.env["WARREN_VALIDATE_RESPONSES"] = "1";
    let { app } = await setup(undefined);
    assert.equal((await app.inject({ method: "GET", url: `${T}/bad-body` })).statusCode, 500);
    await app.close();
    await h?.close();
    ({ app } = await setup(false));
    assert.equal((await app.inject({ method: "GET", url: `${T}/bad-body` })).statusCode, 200);
    await app.close();
    await h?.close();
    delete process.env["WARREN_VALIDATE_RESPONSES"];
    ({ app } = await setup(undefined));
    assert.equal((await app.inject({ method: "GET", url: `${T}/bad-body` })).statusCode, 200);
  } finally {
    if (saved === undefined) delete process.env["WARREN_VALIDATE_RESPONSES"];
    else process.env["WARREN_VALIDATE_RESPONSES"] = saved;
  }
});

test("a hijacked reply (SSE) cannot be changed, but an undocumented status is still logged", async () => {
  const { app, logs } = await setup(true);
  const res = await app.inject({ method: "GET", url: `${T}/hijacked` });
  assert.equal(res.statusCode, 202);
  await new Promise((r) => setImmediate(r));
  const line = logs.find((l) => l.level === 50);
  assert.ok(line, "the violation is logged at error level");
  assert.match(line.msg, violation(`${T}/hijacked`, 202));
});
