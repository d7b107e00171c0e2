// The port proxy and SSH gateway counts (metrics/ingress.ts) on their own: naming, how open and
// ended sessions add up, what a scrape keeps, and that the Grafana dashboard names only series
// Warren exports.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { Registry } from "prom-client";
import { createControlPlaneMetrics } from "../src/metrics/control-plane.ts";
import { addDnsSeries, ENV_SERIES } from "../src/metrics/env-series.ts";
import { addIngressSeries, createIngressMetrics } from "../src/metrics/ingress.ts";

const labels = (id: string) => ({ env_id: id, env_name: `n-${id}`, org: "default" });

async function ingressNames(): Promise<{ name: string; type: string }[]> {
  const r = new Registry();
  addIngressSeries(r, [{ id: "e1", labels: labels("e1"), zero: true }], new Map());
  return (await r.getMetricsAsJSON()).map((m) => ({ name: m.name, type: String(m.type) }));
}

test("the ingress series follow Prometheus naming", async () => {
  const names = await ingressNames();
  assert.equal(names.length, 7);
  for (const { name, type } of names) {
    assert.match(name, /^warren_(proxy|ssh)_[a-z_]+$/);
    if (type === "counter") assert.match(name, /_total$/, name);
    else assert.doesNotMatch(name, /_total$/, name);
  }
});

test("SSH bytes: open logins are read live, ended ones kept; closing twice counts once", () => {
  const m = createIngressMetrics();
  let live = { toEnv: 100, fromEnv: 1000 };
  const end = m.ssh.sessionOpened("e1", () => live);
  m.ssh.sessionOpened("e1", () => ({ toEnv: 1, fromEnv: 2 }));
  let c = m.snapshot().get("e1");
  assert.deepEqual([c?.sshOpen, c?.sshTotal, c?.sshBytes], [2, 2, { to_env: 101, from_env: 1002 }]);
  live = { toEnv: 150, fromEnv: 5000 };
  end();
  end();
  live = { toEnv: 9999, fromEnv: 9999 }; // after the end: no longer read
  c = m.snapshot().get("e1");
  assert.deepEqual([c?.sshOpen, c?.sshTotal, c?.sshBytes], [1, 2, { to_env: 151, from_env: 5002 }]);
});

test("WebSockets and requests; a scrape forgets deleted environments unless something is open", () => {
  const m = createIngressMetrics();
  m.proxy.request("gone");
  m.proxy.bytes("gone", "to_env", 10);
  m.proxy.request("kept");
  const closeWs = m.proxy.websocketOpened("open-ws");
  closeWs();
  closeWs();
  const stillOpen = m.proxy.websocketOpened("open-ws2");
  m.retain((id) => id === "kept");
  assert.deepEqual([...m.snapshot().keys()].sort(), ["kept", "open-ws2"]);
  assert.equal(m.snapshot().get("open-ws2")?.websocketsOpen, 1);
  stillOpen();
  m.retain((id) => id === "kept");
  assert.deepEqual([...m.snapshot().keys()], ["kept"]);
});

test("rendered: environments with traffic, and running ones at zero; nothing for the rest", async () => {
  const m = createIngressMetrics();
  m.proxy.request("busy");
  m.proxy.bytes("busy", "from_env", 42);
  const r = new Registry();
  addIngressSeries(
    r,
    [
      { id: "busy", labels: labels("busy"), zero: false },
      { id: "running", labels: labels("running"), zero: true },
      { id: "stopped", labels: labels("stopped"), zero: false },
    ],
    m.snapshot(),
  );
  const text = await r.metrics();
  assert.match(text, /warren_proxy_requests_total\{env_id="busy",env_name="n-busy",org="default"\} 1/);
  assert.match(text, /warren_proxy_bytes_total\{[^}]*env_id="busy"[^}]*direction="from_env"\} 42/);
  assert.match(text, /warren_ssh_sessions\{env_id="running",env_name="n-running",org="default"\} 0/);
  assert.doesNotMatch(text, /stopped/);
});

test("the Grafana dashboard queries only series Warren exports", async () => {
  const dashboard = readFileSync(new URL("../../../deploy/grafana/warren.json", import.meta.url), "utf8");
  const used = new Set(
    [...dashboard.matchAll(/\b(warren_[a-z_]+?)(?:_bucket)?\b(?=[{[)\s,"])/g)].map((m) => m[1] ?? ""),
  );
  const dns = new Registry();
  addDnsSeries(
    dns,
    {
      hits: 0,
      misses: 0,
      negativeHits: 0,
      upstreamQueries: 0,
      upstreamErrors: 0,
      tcpRetries: 0,
      cacheEntries: 0,
      upstreamLatencyMs: { p50: 0, p99: 0, mean: 0 },
      upstreams: [],
    },
    [],
  );
  const exported = new Set([
    "warren_environments",
    ...ENV_SERIES.map((s) => s.name),
    ...(await ingressNames()).map((s) => s.name),
    ...(await createControlPlaneMetrics({ processMetrics: false }).registry.getMetricsAsJSON()).map(
      (m) => m.name,
    ),
    ...(await dns.getMetricsAsJSON()).map((m) => m.name),
  ]);
  assert.ok(
    used.has("warren_ssh_bytes_total") && used.has("warren_env_cpu_seconds_total"),
    [...used].join(" "),
  );
  for (const name of used)
    assert.ok(exported.has(name), `the dashboard queries ${name}, which Warren does not export`);
});
