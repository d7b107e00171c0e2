// autoscaler/config.ts: the file JSON or YAML, defaults filled in, and every mistake named by
// file and key; a hook others could replace is refused.
import assert from "node:assert/strict";
import { chmodSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, test } from "node:test";
import { tempDir } from "@warren/testing/server-harness";
import { loadAutoscalerConfig, parseAutoscalerConfig } from "../src/autoscaler/config.ts";

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});
const opts = { root: "/var/lib/warren-server", defaultLocalCommand: ["/usr/bin/warren", "runner"] };
const local = { type: "local" };
const json = (v: unknown) => parseAutoscalerConfig("/etc/warren/autoscaler.json", JSON.stringify(v), opts);

test("autoscaler config: defaults (HPA-like) and the local provider under the root", () => {
  const c = json({ pools: [{ name: "eu", provider: local }] });
  assert.equal(c.intervalMs, 15_000);
  const [p] = c.pools;
  assert.deepEqual(
    { ...p, provider: undefined },
    {
      name: "eu",
      org: "default",
      labels: {},
      minRunners: 0,
      maxRunners: 10,
      averageUtilization: 50,
      resource: "memory",
      maxStepUp: 4,
      maxStepDown: 1,
      scaleUpCooldownMs: 60_000,
      scaleDownCooldownMs: 300_000,
      scaleDownStabilizationMs: 300_000,
      bootTimeoutMs: 600_000,
      demandWindowMs: 300_000,
      tokenTtlMs: 900_000,
      provider: undefined,
    },
  );
  assert.deepEqual(p?.provider, {
    type: "local",
    stateDir: "/var/lib/warren-server/autoscaler/eu",
    command: ["/usr/bin/warren", "runner"],
    idRange: { start: 10_000_000, size: 4_194_304 },
    subnetBase: 210,
    prefix: "wa",
    maxHosts: 32,
  });
});

test("autoscaler config: YAML by extension, with a hook provider", () => {
  const t = tempDir();
  cleanups.push(t.cleanup);
  const hook = path.join(t.dir, "make-host");
  writeFileSync(hook, "#!/bin/sh\n", { mode: 0o755 });
  const file = path.join(t.dir, "autoscaler.yaml");
  writeFileSync(
    file,
    `intervalSeconds: 5
server: { url: "https://warren.example:7443", fingerprint: "ab:cd" }
pools:
  - name: gpu
    org: acme
    labels: { gpu: "a100" }
    minRunners: 1
    maxRunners: 3
    resource: cpu
    provider:
      type: hook
      path: ${hook}
      env: { CLOUD_PROFILE: "warren" }
      timeoutSeconds: { create: 600 }
`,
  );
  const c = loadAutoscalerConfig(file, opts);
  assert.equal(c.intervalMs, 5000);
  assert.deepEqual(c.server, { url: "https://warren.example:7443", fingerprint: "ab:cd" });
  assert.equal(c.pools[0]?.resource, "cpu");
  assert.deepEqual(c.pools[0]?.provider, {
    type: "hook",
    path: hook,
    env: { CLOUD_PROFILE: "warren" },
    timeoutMs: { create: 600_000, delete: 300_000, status: 30_000 },
  });
  chmodSync(hook, 0o777);
  assert.throws(
    () => loadAutoscalerConfig(file, opts),
    /pools\[0\]\.provider\.path the hook .* is writable by others/,
  );
});

const bad: [string, unknown, RegExp][] = [
  ["no pools", { pools: [] }, /autoscaler\.json: pools must be a non-empty array/],
  [
    "a typo in a key",
    { pools: [{ name: "eu", maxRunner: 3, provider: local }] },
    /pools\[0\]\.maxRunner is not a known key/,
  ],
  [
    "max below min",
    { pools: [{ name: "eu", minRunners: 4, maxRunners: 2, provider: local }] },
    /pools\[0\]\.maxRunners \(2\) must be at least minRunners \(4\)/,
  ],
  [
    "a target out of range",
    { pools: [{ name: "eu", averageUtilization: 150, provider: local }] },
    /averageUtilization must be a whole number from 1 to 100, not 150/,
  ],
  [
    "a pool name that is no DNS label",
    { pools: [{ name: "EU pool", provider: local }] },
    /pools\[0\]\.name must be a DNS label/,
  ],
  [
    "an unknown provider",
    { pools: [{ name: "eu", provider: { type: "ec2" } }] },
    /pools\[0\]\.provider\.type must be "hook" or "local", not "ec2"/,
  ],
  [
    "a relative hook path",
    { pools: [{ name: "eu", provider: { type: "hook", path: "make-host" } }] },
    /provider\.path the hook path must be absolute/,
  ],
  [
    "two pools for one organisation",
    {
      pools: [
        { name: "a", provider: local },
        { name: "b", provider: local },
      ],
    },
    /organisation "default" has two pools \(a, b\)/,
  ],
  [
    "a plain-http server url",
    { server: { url: "http://x:1", fingerprint: "f" }, pools: [{ name: "eu", provider: local }] },
    /server\.url must be https:\/\/HOST:PORT/,
  ],
  [
    "a resource that is not memory or cpu",
    { pools: [{ name: "eu", resource: "gpu", provider: local }] },
    /resource must be "memory" or "cpu", not "gpu"/,
  ],
];
for (const [name, v, re] of bad) {
  test(`autoscaler config refuses ${name}`, () => assert.throws(() => json(v), re));
}

test("autoscaler config: unreadable, wrong extension and malformed files say so", () => {
  assert.throws(
    () => loadAutoscalerConfig("/nonexistent/a.json", opts),
    /autoscaler config \/nonexistent\/a\.json: cannot read it: ENOENT/,
  );
  assert.throws(
    () => parseAutoscalerConfig("a.toml", "", opts),
    /a\.toml: {2}must end in \.json, \.yaml or \.yml|a\.toml: .*must end in/,
  );
  assert.throws(() => parseAutoscalerConfig("a.json", "{pools:", opts), /a\.json: not valid JSON/);
  assert.throws(() => parseAutoscalerConfig("a.yaml", "pools: [", opts), /a\.yaml: not valid YAML/);
});
