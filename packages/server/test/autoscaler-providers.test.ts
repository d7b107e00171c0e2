// The autoscaler's provider contract (autoscaler/providers/types.ts), one suite run against every
// provider: `local` (real processes on this host) and `hook` (a real executable speaking JSON on
// stdin/stdout, keeping its hosts as files). Then what each one owes beyond the contract.
import assert from "node:assert/strict";
import { chmodSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, test } from "node:test";
import { tempDir } from "@warren/testing/server-harness";
import { createHookProvider } from "../src/autoscaler/providers/hook.ts";
import { createLocalProvider } from "../src/autoscaler/providers/local.ts";
import type { HostProvider, HostRequest } from "../src/autoscaler/providers/types.ts";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const request = (requestId: string): HostRequest => ({
  requestId,
  pool: "p",
  name: `p-${requestId}`,
  labels: { zone: "a" },
  server: { url: "https://127.0.0.1:1", fingerprint: "ab".repeat(32) },
  token: `wrn_r_${requestId.padEnd(43, "x")}`,
  tokenExpiresAt: "2030-01-01T00:00:00.000Z",
});

/** A process that only waits, standing in for `warren runner` (the flags follow `--`). */
const SLEEPER = [process.execPath, "-e", "setInterval(() => {}, 1000)", "--"];

interface Subject {
  provider: HostProvider;
  /** Hosts that exist, by the provider's own bookkeeping of the outside world. */
  live(): number;
}

function localSubject(): Subject {
  const t = tempDir("warren-local-provider-");
  const provider = createLocalProvider({ stateDir: t.dir, command: SLEEPER, stopTimeoutMs: 2000 });
  cleanups.push(t.cleanup, async () => {
    for (const f of readdirSync(path.join(t.dir, "hosts")).filter((n) => n.endsWith(".json")))
      await provider.delete(f.slice(0, -5));
  });
  const pidAlive = (pid: number) => {
    try {
      return !/\) [ZX] /.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
    } catch {
      return false;
    }
  };
  return {
    provider,
    live: () =>
      readdirSync(path.join(t.dir, "hosts"))
        .filter((n) => n.endsWith(".json"))
        .filter((n) => pidAlive(JSON.parse(readFileSync(path.join(t.dir, "hosts", n), "utf8")).pid)).length,
  };
}

/** A hook that keeps each host as a file named by its id, and logs each call's environment. */
const FAKE_HOOK = `#!${process.execPath}
const fs = require("node:fs");
const dir = process.env.FAKE_HOOK_STATE;
const verb = process.argv[2];
const input = JSON.parse(fs.readFileSync(0, "utf8") || "{}");
fs.appendFileSync(dir + "/calls.log", JSON.stringify({ verb, argv: process.argv.slice(2), env: Object.keys(process.env) }) + "\\n");
if (process.env.FAKE_HOOK_MODE === "sleep") setTimeout(() => {}, 60000);
else if (process.env.FAKE_HOOK_MODE === "fail") { process.stderr.write("quota exceeded in zone a\\n"); process.exit(3); }
else if (process.env.FAKE_HOOK_MODE === "junk") process.stdout.write("created!");
else if (verb === "create") {
  const id = "h-" + input.requestId;
  if (!fs.existsSync(dir + "/" + id)) fs.writeFileSync(dir + "/" + id, JSON.stringify(input));
  process.stdout.write(JSON.stringify({ id }));
} else if (verb === "delete") fs.rmSync(dir + "/" + input.id, { force: true });
else if (verb === "status") process.stdout.write(JSON.stringify({ state: fs.existsSync(dir + "/" + input.id) ? "running" : "gone" }));
`;

function writeHook(mode = "") {
  const t = tempDir("warren-hook-provider-");
  cleanups.push(t.cleanup);
  const hook = path.join(t.dir, "hook");
  writeFileSync(hook, FAKE_HOOK, { mode: 0o755 });
  const env: Record<string, string> = { FAKE_HOOK_STATE: t.dir, ...(mode ? { FAKE_HOOK_MODE: mode } : {}) };
  return { dir: t.dir, hook, env };
}

function hookSubject(): Subject {
  const { dir, hook, env } = writeHook();
  return {
    provider: createHookProvider({ path: hook, env }),
    live: () => readdirSync(dir).filter((n) => n.startsWith("h-")).length,
  };
}

for (const [kind, make] of [
  ["local", localSubject],
  ["hook", hookSubject],
] as const) {
  test(`provider contract (${kind}): create is idempotent per request id`, async () => {
    const s = make();
    const a = await s.provider.create(request("req-1"));
    const again = await s.provider.create(request("req-1"));
    assert.equal(again.id, a.id, "the same request gives the same host");
    assert.equal(s.live(), 1, "and no second host");
    const b = await s.provider.create(request("req-2"));
    assert.notEqual(b.id, a.id);
    assert.equal(s.live(), 2);
    assert.equal((await s.provider.status(a.id)).state, "running");
  });

  test(`provider contract (${kind}): delete is idempotent, and status says gone after it`, async () => {
    const s = make();
    const { id } = await s.provider.create(request("req-1"));
    await s.provider.delete(id);
    assert.equal(s.live(), 0);
    assert.equal((await s.provider.status(id)).state, "gone");
    await s.provider.delete(id); // already gone: still fine
    assert.equal((await s.provider.status(id)).state, "gone");
  });

  test(`provider contract (${kind}): status of a host never made is gone; unsafe ids are refused`, async () => {
    const s = make();
    assert.equal((await s.provider.status("never-made")).state, "gone");
    await assert.rejects(s.provider.create(request("../etc")), /not a plain id/);
    await assert.rejects(s.provider.delete("a b"), /not a plain id/);
    assert.equal(s.live(), 0);
  });
}

test("local provider: each host gets its own id range, subnet, root, run dir and prefix; the token stays off argv", async () => {
  const t = tempDir("warren-local-provider-");
  cleanups.push(t.cleanup);
  const provider = createLocalProvider({ stateDir: t.dir, command: SLEEPER, stopTimeoutMs: 2000 });
  const ids = [(await provider.create(request("one"))).id, (await provider.create(request("two"))).id];
  cleanups.push(async () => {
    for (const id of ids) await provider.delete(id);
  });
  const seen = ids.map((id) => {
    const rec = JSON.parse(readFileSync(path.join(t.dir, "hosts", `${id}.json`), "utf8"));
    const argv = readFileSync(`/proc/${rec.pid}/cmdline`, "utf8").split("\0");
    const env = readFileSync(`/proc/${rec.pid}/environ`, "utf8").split("\0");
    const flag = (f: string) => argv[argv.indexOf(f) + 1];
    assert.ok(!argv.some((a) => a.includes("wrn_r_")), "no token on the command line");
    const tokenFile = flag("--token-file") as string;
    assert.equal(statSync(tokenFile).mode & 0o777, 0o600);
    assert.match(readFileSync(tokenFile, "utf8"), /^wrn_r_/);
    assert.equal(flag("--name"), `p-${id}`);
    assert.equal(flag("--label"), "zone=a");
    assert.ok(!env.some((e) => e.startsWith("HOME=") || e.startsWith("WARREN_DB")), "scrubbed environment");
    return {
      range: env.find((e) => e.startsWith("WARREN_ID_RANGE=")),
      subnet: env.find((e) => e.startsWith("WARREN_SUBNET=")),
      root: flag("--root"),
      run: flag("--run"),
      prefix: flag("--prefix"),
    };
  });
  const [a, b] = seen as [(typeof seen)[0], (typeof seen)[0]];
  assert.deepEqual(a, {
    ...a,
    range: "WARREN_ID_RANGE=10000000:4194304",
    subnet: "WARREN_SUBNET=10.210.0.0/24",
    prefix: "wa0",
  });
  assert.deepEqual(b, {
    ...b,
    range: "WARREN_ID_RANGE=14194304:4194304",
    subnet: "WARREN_SUBNET=10.210.1.0/24",
    prefix: "wa1",
  });
  assert.notEqual(a.root, b.root);
  assert.notEqual(a.run, b.run);

  // A host whose process died reports failed; asking for it again starts it on the same number.
  const rec = JSON.parse(readFileSync(path.join(t.dir, "hosts", "one.json"), "utf8"));
  process.kill(-rec.pid, "SIGKILL");
  const deadline = Date.now() + 5000;
  while ((await provider.status("one")).state !== "failed") {
    assert.ok(Date.now() < deadline, "the dead host is seen as failed");
    await new Promise((r) => setTimeout(r, 20));
  }
  await provider.create(request("one"));
  assert.equal((await provider.status("one")).state, "running");
  const again = JSON.parse(readFileSync(path.join(t.dir, "hosts", "one.json"), "utf8"));
  assert.notEqual(again.pid, rec.pid);
  assert.equal(again.index, 0);
});

test("hook provider: fixed argv, scrubbed environment, the request on stdin", async () => {
  const { dir, hook, env } = writeHook();
  process.env["WARREN_TEST_SECRET"] = "must-not-leak";
  cleanups.push(() => {
    delete process.env["WARREN_TEST_SECRET"];
  });
  const provider = createHookProvider({ path: hook, env });
  const { id } = await provider.create(request("req-9"));
  const calls = readFileSync(path.join(dir, "calls.log"), "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));
  assert.deepEqual(calls[0].argv, ["create"]);
  assert.deepEqual([...calls[0].env].sort(), ["FAKE_HOOK_STATE", "LANG", "PATH"].sort());
  const stored = JSON.parse(readFileSync(path.join(dir, id), "utf8"));
  assert.equal(stored.token, request("req-9").token, "the token travels on stdin");
  assert.deepEqual(stored.labels, { zone: "a" });
});

test("hook provider: a hook that hangs is killed at the timeout; failures and junk are clear errors", async () => {
  const slow = writeHook("sleep");
  const started = Date.now();
  await assert.rejects(
    createHookProvider({ path: slow.hook, env: slow.env, timeoutMs: { create: 300 } }).create(request("r")),
    /create timed out after 300 ms/,
  );
  assert.ok(Date.now() - started < 5000);
  const failing = writeHook("fail");
  await assert.rejects(
    createHookProvider({ path: failing.hook, env: failing.env }).create(request("r")),
    /create exited with 3: quota exceeded in zone a/,
  );
  const junk = writeHook("junk");
  await assert.rejects(
    createHookProvider({ path: junk.hook, env: junk.env }).status("x"),
    /status printed no JSON object on stdout \(got "created!"\)/,
  );
});

test("hook provider: a relative, missing or group-writable hook is refused up front", () => {
  const { hook } = writeHook();
  assert.throws(() => createHookProvider({ path: "hooks/make-host" }), /must be absolute/);
  assert.throws(() => createHookProvider({ path: `${hook}-missing` }), /does not exist/);
  chmodSync(hook, 0o775);
  assert.throws(() => createHookProvider({ path: hook }), /writable by others \(mode 775\); run `chmod go-w/);
  chmodSync(hook, 0o644);
  assert.throws(() => createHookProvider({ path: hook }), /not executable/);
});
