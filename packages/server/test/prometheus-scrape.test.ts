// A real Prometheus (Debian's /usr/bin/prometheus) scrapes /metrics and /metrics/runners as it
// would in production: on the ingress HTTP listener of a real daemon (runDaemon), whose
// control-plane host answers an IP-literal Host (Prometheus cannot set one), with a
// `metrics:read` bearer token over loopback TCP, where no request is the local root. PromQL then
// finds an environment's CPU counter and its rate, and its proxy series. The runner is the fake
// one, whose CPU counter this test makes climb. Prometheus starts while the daemon does: it retries
// its scrapes until the listener and the token are there.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import path from "node:path";
import { after, before, test } from "node:test";
import { FakeRunner } from "@warren/testing/fake-runner";
import { tempDir } from "@warren/testing/server-harness";
import { systemClock } from "../src/clock.ts";
import { type Daemon, runDaemon } from "../src/daemon.ts";
import { createIdentityService, LOCAL_ROOT } from "../src/services/identity.ts";

const PROMETHEUS = "/usr/bin/prometheus";
const skip = existsSync(PROMETHEUS)
  ? false
  : `${PROMETHEUS} is missing: scripts/setup.sh --test installs Debian's prometheus`;

const tmp = tempDir("warren-prom-");
const dir = tmp.dir;
const fake = new FakeRunner();
const tokenFile = path.join(dir, "token");
let d: Daemon | undefined;
let prom: ChildProcess | undefined;
let promLog = "";
let promPort = 0;
let listenPort = 0;

after(async () => {
  if (prom?.pid && prom.exitCode === null) {
    prom.kill("SIGTERM");
    await new Promise((r) => prom!.once("exit", r));
  }
  await d?.close();
  tmp.cleanup();
});

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

async function query(
  promPort: number,
  q: string,
): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
  const res = await fetch(`http://127.0.0.1:${promPort}/api/v1/query?query=${encodeURIComponent(q)}`);
  const body = (await res.json()) as { status: string; data: { result: [] }; error?: string };
  assert.equal(body.status, "success", body.error);
  return body.data.result;
}

async function until<T>(what: string, ms: number, f: () => Promise<T | undefined>): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end)
      throw new Error(`timed out waiting for ${what}; prometheus said:\n${promLog.slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

function startPrometheus(): ChildProcess {
  const job = (name: string, metricsPath: string) => `
  - job_name: ${name}
    metrics_path: ${metricsPath}
    authorization: { type: Bearer, credentials_file: ${tokenFile} }
    static_configs: [{ targets: ["127.0.0.1:${listenPort}"] }]`;
  writeFileSync(
    path.join(dir, "prometheus.yml"),
    `global: { scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s }\nscrape_configs:${job("warren", "/metrics")}${job("warren-runners", "/metrics/runners")}\n`,
  );
  const p = spawn(
    PROMETHEUS,
    [
      `--config.file=${path.join(dir, "prometheus.yml")}`,
      `--storage.tsdb.path=${path.join(dir, "data")}`,
      `--web.listen-address=127.0.0.1:${promPort}`,
      "--log.level=warn",
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  p.stdout!.on("data", (b) => (promLog += b));
  p.stderr!.on("data", (b) => (promLog += b));
  return p;
}

before(async () => {
  if (skip) return;
  [listenPort, promPort] = await Promise.all([freePort(), freePort()]);
  // Until the token file exists Prometheus's scrapes fail, and it retries each second.
  prom = startPrometheus();
  d = await runDaemon({
    socketPath: path.join(dir, "run", "warren.sock"),
    root: dir,
    runner: fake,
    defaultRuntime: "runc",
    resyncMs: 60_000,
    logger: false,
    handleSignals: false,
    portProxy: { listen: `127.0.0.1:${listenPort}` },
  });
});

test("Prometheus scrapes both endpoints with a metrics:read token and PromQL finds the CPU", {
  skip,
  timeout: 30_000,
}, async () => {
  const t0 = Date.now();
  // An environment, made as root on the local socket (inject has no TCP socket).
  const made = await d!.app.inject({ method: "POST", url: "/api/v1/environments", payload: { name: "p1" } });
  assert.equal(made.statusCode, 201, made.body);
  const envId = made.json().id as string;
  // Its CPU counter climbs half a core's worth per second, so rate() has something to find.
  const real = fake.stats.bind(fake);
  fake.stats = async (id) => ({ ...(await real(id)), cpuSecondsTotal: (Date.now() - t0) / 2000 });
  const identity = createIdentityService({ db: d!.store.db, clock: systemClock });
  const { token } = await identity.createToken(LOCAL_ROOT, { name: "prometheus", scopes: ["metrics:read"] });
  writeFileSync(tokenFile, token, { mode: 0o600 });

  const ups = await until("both targets up", 15_000, async () => {
    const r = await query(promPort, "up == 1");
    return r.length === 2 ? r : undefined;
  });
  assert.deepEqual(ups.map((r) => r.metric["job"]).sort(), ["warren", "warren-runners"]);
  process.stdout.write(`# both targets up after ${Date.now() - t0} ms\n`);

  const series = await until("the CPU counter", 10_000, async () => {
    const r = await query(promPort, `warren_env_cpu_seconds_total{env_name="p1"}`);
    return r.length === 1 ? r[0] : undefined;
  });
  assert.equal(series.metric["env_id"], envId);
  assert.equal(series.metric["org"], "default");
  assert.equal(series.metric["job"], "warren-runners");
  // Half a core; a first window of two samples can be off by scrape jitter, so wait for a steady one.
  const rates: string[] = [];
  await until("a CPU rate of half a core", 10_000, async () => {
    const r = await query(promPort, `rate(warren_env_cpu_seconds_total{env_name="p1"}[3s])`);
    const v = r[0]?.value[1];
    if (v !== undefined) rates.push(v);
    return v !== undefined && Math.abs(Number(v) - 0.5) < 0.1 ? v : undefined;
  }).catch((err) => {
    throw new Error(`${(err as Error).message}\nrates seen: ${rates.join(" ")}`);
  });

  // The port proxy's series for the same environment, labelled alike (zero: nothing proxied yet).
  const proxied = await until("the proxy's request counter", 5_000, async () => {
    const r = await query(promPort, `warren_proxy_requests_total{env_name="p1"}`);
    return r.length === 1 ? r[0] : undefined;
  });
  assert.equal(proxied.metric["env_id"], envId);
  assert.equal(proxied.metric["job"], "warren");
  assert.equal(proxied.value[1], "0");

  const reqs = await query(
    promPort,
    `sum(warren_http_requests_total{route="/metrics/runners",status="200"})`,
  );
  assert.ok(Number(reqs[0]?.value[1]) >= 1, "the control plane counted the scrapes");
  process.stdout.write(`# prometheus scrape test: ${Date.now() - t0} ms\n`);
});
