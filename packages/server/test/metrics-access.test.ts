// /metrics and /metrics/runners over the remote API (in-process): who sees which series, what a
// `metrics:read` token may and may not call, and that junk from a runner never reaches a scrape.
import assert from "node:assert/strict";
import { afterEach, test } from "node:test";
import { bearer, userWithToken, type World, world } from "./audit-world.ts";

let w: World | undefined;
afterEach(async () => {
  await w?.close();
  w = undefined;
});

const ORG_B = "org_acme";

async function get(token: string, url: string) {
  return w!.remote.inject({ method: "GET", url, headers: bearer(token) });
}

async function createEnv(token: string, name: string) {
  const res = await w!.remote.inject({
    method: "POST",
    url: "/api/v1/environments",
    headers: bearer(token),
    payload: { name },
  });
  assert.equal(res.statusCode, 201, res.body);
  return res.json().id as string;
}

async function metricsToken(token: string): Promise<string> {
  const res = await w!.remote.inject({
    method: "POST",
    url: "/api/v1/tokens",
    headers: bearer(token),
    payload: { name: "prometheus", scopes: ["metrics:read"] },
  });
  assert.equal(res.statusCode, 201, res.body);
  return res.json().token as string;
}

/** Two organisations with one environment each: the server's first (alice) and acme (bob). */
async function twoOrgs() {
  w = await world();
  const alice = await userWithToken(w, "alice", "admin");
  const bob = await userWithToken(w, "bob", "admin", ORG_B);
  const a1 = await createEnv(alice.token, "a1");
  const b1 = await createEnv(bob.token, "b1");
  return { alice, bob, a1, b1 };
}

test("the operator's metrics token sees every organisation's environments and the host", async () => {
  const { alice, a1, b1 } = await twoOrgs();
  const m = await metricsToken(alice.token);
  const runners = await get(m, "/metrics/runners");
  assert.equal(runners.statusCode, 200, runners.body);
  assert.match(String(runners.headers["content-type"]), /^text\/plain; version=0\.0\.4/);
  assert.match(
    runners.body,
    new RegExp(`warren_env_cpu_seconds_total\\{env_id="${a1}",env_name="a1",org="default"\\} 12\\.5`),
  );
  assert.match(
    runners.body,
    new RegExp(`warren_env_cpu_seconds_total\\{env_id="${b1}",env_name="b1",org="${ORG_B}"\\} 12\\.5`),
  );
  assert.match(runners.body, /# TYPE warren_env_cpu_seconds_total counter/);
  assert.match(runners.body, /warren_env_pressure_some_ratio\{[^}]*resource="memory"\} 0/);
  assert.match(runners.body, /warren_dns_cache_hits_total \d+/);

  const cp = await get(m, "/metrics");
  assert.equal(cp.statusCode, 200);
  // Route patterns, never raw URLs: the environment's name does not become a label value.
  assert.match(
    cp.body,
    /warren_http_requests_total\{method="POST",route="\/api\/v1\/environments",status="201"\} 2/,
  );
  assert.match(
    cp.body,
    /warren_http_request_duration_seconds_bucket\{le="0.001",method="GET",route="\/metrics\/runners"\}/,
  );
  assert.match(cp.body, /warren_environments\{org="org_acme",state="running"\} 1/);
  assert.match(cp.body, /warren_environments\{org="default",state="running"\} 1/);
  assert.match(cp.body, /warren_runner_connections 0/);
});

test("another organisation's metrics token sees only its own environments, nothing host-wide", async () => {
  const { bob, a1, b1 } = await twoOrgs();
  const m = await metricsToken(bob.token);
  const runners = await get(m, "/metrics/runners");
  assert.equal(runners.statusCode, 200, runners.body);
  assert.match(runners.body, new RegExp(`env_id="${b1}"`));
  assert.doesNotMatch(runners.body, new RegExp(a1));
  assert.doesNotMatch(runners.body, /org="default"/);
  assert.doesNotMatch(runners.body, /warren_dns_/);
  const cp = await get(m, "/metrics");
  assert.equal(cp.statusCode, 200);
  assert.match(cp.body, /warren_environments\{org="org_acme",state="running"\} 1/);
  assert.doesNotMatch(cp.body, /org="default"/);
  assert.doesNotMatch(
    cp.body,
    /warren_http_requests_total|warren_reconcile|warren_store|warren_runner_connections/,
  );
});

test("a member sees only their own environments, with a normal token too", async () => {
  const { a1 } = await twoOrgs();
  const carol = await userWithToken(w!, "carol", "member");
  const c1 = await createEnv(carol.token, "c1");
  const runners = await get(carol.token, "/metrics/runners");
  assert.equal(runners.statusCode, 200, runners.body);
  assert.match(runners.body, new RegExp(`env_id="${c1}"`));
  assert.doesNotMatch(runners.body, new RegExp(a1));
  assert.doesNotMatch(runners.body, /warren_dns_/);
});

test("a metrics:read token reads /metrics and nothing else", async () => {
  const { alice } = await twoOrgs();
  const m = await metricsToken(alice.token);
  for (const [method, url] of [
    ["GET", "/api/v1/environments"],
    ["GET", "/api/v1/whoami"],
    ["POST", "/api/v1/tokens"],
    ["DELETE", "/api/v1/environments/a1"],
    ["GET", "/api/v1/stats"],
    ["POST", "/metrics"],
  ] as const) {
    const res = await w!.remote.inject({
      method,
      url,
      headers: bearer(m),
      ...(method === "POST" ? { payload: { name: "x" } } : {}),
    });
    assert.equal(res.statusCode, 403, `${method} ${url}: ${res.body}`);
    assert.equal(res.json().code, "FORBIDDEN");
    assert.match(res.json().message, /limited to scope metrics:read/);
  }
  // The environment is still there: the refusal came before any handler.
  assert.equal((await get(alice.token, "/api/v1/environments/a1")).statusCode, 200);
  // Without a token over TCP: no metrics at all.
  const anon = await w!.remote.inject({ method: "GET", url: "/metrics" });
  assert.equal(anon.statusCode, 401);
});

test("token scopes: listed, validated, and never on runner tokens", async () => {
  const { alice } = await twoOrgs();
  await metricsToken(alice.token);
  const list = await get(alice.token, "/api/v1/tokens");
  const scopes = (list.json().items as { name: string; scopes: string[] }[])
    .map((t) => [t.name, t.scopes])
    .sort();
  assert.deepEqual(scopes, [
    ["alice-token", []],
    ["prometheus", ["metrics:read"]],
  ]);
  const bad = await w!.remote.inject({
    method: "POST",
    url: "/api/v1/tokens",
    headers: bearer(alice.token),
    payload: { name: "x", scopes: ["metrics:write"] },
  });
  assert.equal(bad.statusCode, 400);
  assert.match(bad.json().message, /unknown token scope "metrics:write"; known scopes: metrics:read/);
  const runner = await w!.remote.inject({
    method: "POST",
    url: "/api/v1/admin/runner-tokens",
    headers: bearer(alice.token),
    payload: { name: "r", scopes: ["metrics:read"] },
  });
  assert.equal(runner.statusCode, 400);
  assert.match(runner.json().message, /runner tokens take no scopes/);
});

test("invalid numbers from a runner are dropped and counted, never exported", async () => {
  const { alice, a1 } = await twoOrgs();
  const real = w!.h.runner.stats.bind(w!.h.runner);
  w!.h.runner.stats = async (id) => ({
    ...(await real(id)),
    cpuSecondsTotal: Number.NaN,
    memoryWorkingSetBytes: -5,
    diskUsedBytes: Number.POSITIVE_INFINITY,
  });
  const res = await get(alice.token, "/metrics/runners");
  assert.equal(res.statusCode, 200, res.body);
  assert.doesNotMatch(res.body, /warren_env_cpu_seconds_total\{/);
  assert.doesNotMatch(res.body, /warren_env_memory_working_set_bytes\{/);
  assert.doesNotMatch(res.body, /NaN|Inf|-5/);
  // The sane values of the same sample still arrive.
  assert.match(res.body, new RegExp(`warren_env_pids\\{env_id="${a1}"[^}]*\\} 3`));
  const cp = await get(alice.token, "/metrics");
  assert.match(cp.body, /warren_runner_samples_rejected_total\{reason="warren_env_cpu_seconds_total"\} 2/);
});
