// Runs one tier of tests, named by file suffix (DESIGN.md): unit = *.test.ts, host = *.host.test.ts,
// pg = *.pg.test.ts. Host tests run one file at a time: they share the host's namespaces,
// cgroups and loop devices. Prints each file's duration and flags files over 30 s.
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import path from "node:path";

const tier = process.argv[2] ?? "unit";
const only = process.argv.slice(3);
const root = path.resolve(import.meta.dirname, "..");

function walk(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.name === "node_modules" || e.name.startsWith(".")) continue;
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walk(p, out);
    else out.push(p);
  }
  return out;
}

const all = walk(path.join(root, "packages")).filter((f) => f.endsWith(".ts") && f.includes("/test/"));
const pick = (f: string) => {
  if (tier === "host") return f.endsWith(".host.test.ts");
  if (tier === "pg") return f.endsWith(".pg.test.ts");
  return f.endsWith(".test.ts") && !f.endsWith(".host.test.ts") && !f.endsWith(".pg.test.ts");
};
const files = all
  .filter(pick)
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
  .sort();
if (files.length === 0) {
  console.log(`no ${tier} tests`);
  process.exit(0);
}

const serial = tier !== "unit";
// Every API response the tests provoke is checked against the OpenAPI document
// (packages/server/src/http/response-validation.ts); daemons e2e tests spawn inherit it.
const childEnv: NodeJS.ProcessEnv = {
  ...process.env,
  WARREN_TEST_TIER: tier,
  WARREN_VALIDATE_RESPONSES: "1",
  // The CLI processes tests spawn share bin/warren's compile cache (root-owned, in the toolchain).
  NODE_COMPILE_CACHE: process.env["NODE_COMPILE_CACHE"] ?? path.join(root, ".toolchain/compile-cache"),
};
// The pg tier: one PostgreSQL cluster for the whole run; each file makes its own databases from
// the cluster's migrated template (packages/testing/src/pg-cluster.ts).
let stopCluster: (() => Promise<void>) | undefined;
if (tier === "pg") {
  const mod = await import(path.join(root, "packages/testing/src/pg-cluster.ts"));
  const t0 = Date.now();
  const cluster = await mod.startPgCluster();
  stopCluster = () => cluster.stop();
  childEnv[mod.SHARED_CLUSTER_PORT_ENV] = String(cluster.port);
  console.log(
    `--- PostgreSQL cluster for this run on 127.0.0.1:${cluster.port}: ${((Date.now() - t0) / 1000).toFixed(1)}s`,
  );
}
const slow: string[] = [];
let failed = 0;
const runBatch = (batch: string[]) => {
  const t0 = Date.now();
  const r = spawnSync(
    process.execPath,
    ["--test", "--test-reporter=spec", `--test-concurrency=${serial ? 1 : 2}`, ...batch],
    {
      stdio: "inherit",
      cwd: root,
      env: childEnv,
    },
  );
  const secs = (Date.now() - t0) / 1000;
  if (r.status !== 0) failed++;
  return secs;
};

if (serial) {
  for (const f of files) {
    const secs = runBatch([f]);
    const rel = path.relative(root, f);
    console.log(`--- ${rel}: ${secs.toFixed(1)}s`);
    if (secs > 30) slow.push(`${rel} (${secs.toFixed(0)}s)`);
  }
} else {
  const secs = runBatch(files);
  console.log(`--- ${files.length} unit test files: ${secs.toFixed(1)}s`);
}
if (slow.length) console.log(`tests over 30 s: ${slow.join(", ")}`);
await stopCluster?.();
process.exit(failed ? 1 : 0);
