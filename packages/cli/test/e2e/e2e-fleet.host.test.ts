// A fleet on one host: a real `warren server` and two real `warren runner` processes with
// disjoint id ranges, subnets, roots, run dirs and prefixes, labelled zone=a and zone=b.
// Environments spread over both, a class requiring zone=b lands on b, exec reaches each one's
// own runner, a cordoned runner takes no new ones, and a killed runner's environment gains
// RunnerUnreachable (short grace) which its return clears, exec working again. A third runner
// whose id range overlaps b's is refused before it touches the host.
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, openSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import {
  type ApiClient,
  createClient,
  type Environment,
  type FleetList,
  tlsTransport,
} from "@warren/protocol";
import { forceClean, type Harness, leftovers, makeHarness, REPO } from "@warren/testing/e2e-harness";
import { callJson, type ServerProcess, startServerProcess } from "@warren/testing/server-process";

const MAIN = path.join(REPO, "packages/cli/src/main.ts");
const BLOCK = 65536;
/** The grace before a lost runner's environments are marked (production default: 60 s). */
const GRACE_MS = 1500;

interface RunnerProc {
  name: string;
  root: string;
  prefix: string;
  env: NodeJS.ProcessEnv;
  tokenFile: string;
  log: string;
  child?: ChildProcess;
}

describe("a fleet of two runners on one host (e2e)", { timeout: 120_000 }, () => {
  let h: Harness;
  let server: ServerProcess | undefined;
  let api: ApiClient;
  let userToken = "";
  const runners: RunnerProc[] = [];
  const made: string[] = [];

  const connectedCount = (r: RunnerProc) =>
    readFileSync(r.log, "utf8")
      .split("\n")
      .filter((l) => l.includes("connected to the control plane")).length;

  async function startRunner(r: RunnerProc): Promise<void> {
    const s = server!;
    const before = connectedCount(r);
    const labels = [`zone=${r.name}`];
    r.child = spawn(
      process.execPath,
      [
        MAIN,
        "runner",
        "--server",
        s.url,
        "--fingerprint",
        s.fingerprint,
        "--token-file",
        r.tokenFile,
        "--name",
        r.name,
        ...labels.flatMap((l) => ["--label", l]),
        "--root",
        r.root,
        "--run",
        path.join(r.root, "run"),
        "--prefix",
        r.prefix,
      ],
      { env: r.env, stdio: ["ignore", openSync(r.log, "a"), openSync(r.log, "a")] },
    );
    const until = Date.now() + 60_000;
    while (connectedCount(r) <= before) {
      const tail = readFileSync(r.log, "utf8").slice(-2000);
      assert.ok(Date.now() < until, `runner ${r.name} did not connect; log:\n${tail}`);
      assert.equal(r.child.exitCode, null, `runner ${r.name} exited; log:\n${tail}`);
      await sleep(50);
    }
  }

  async function stopRunner(r: RunnerProc, signal: NodeJS.Signals): Promise<void> {
    const c = r.child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise((res) => c.once("exit", res));
    c.kill(signal);
    await exited;
  }

  async function exec(name: string, cmd: string[]): Promise<{ code: number; stdout: string }> {
    let stdout = "";
    return await new Promise((resolve, reject) => {
      api
        .exec(
          name,
          { cmd, tty: false },
          {
            stdout: (d) => {
              stdout += Buffer.from(d).toString();
            },
            stderr: () => {},
            exit: (code) => resolve({ code, stdout }),
            error: reject,
          },
        )
        .then((s) => s.endStdin(), reject);
    });
  }

  /** What the server and runners logged, for a failing assertion's message. */
  const diagnostics = () =>
    [
      `server problems:\n${server?.problems.slice(-20).join("\n")}`,
      ...runners.map((r) => `runner ${r.name}:\n${readFileSync(r.log, "utf8").slice(-1500)}`),
    ].join("\n");

  async function up(name: string, className?: string): Promise<Environment> {
    made.push(name);
    try {
      const { env } = await api.createEnvironment({
        name,
        memory: "256m",
        disk: "256m",
        ...(className ? { className } : {}),
      });
      assert.equal(env.state, "running", JSON.stringify(env));
      return env;
    } catch (err) {
      throw new Error(`up ${name}: ${(err as Error).message}\n${diagnostics()}`);
    }
  }

  const runnerOf = (e: Environment) => e.runner?.name;
  const unreachable = (e: Environment) => e.conditions?.find((c) => c.type === "RunnerUnreachable");

  async function until<T>(what: string, fn: () => Promise<T | undefined>, ms = 15_000): Promise<T> {
    const end = Date.now() + ms;
    for (;;) {
      const v = await fn();
      if (v !== undefined) return v;
      assert.ok(Date.now() < end, `timed out waiting for ${what}`);
      await sleep(100);
    }
  }

  before(async () => {
    h = await makeHarness("fleet");
    // The runners' roots live inside the harness's: environments' root uids must traverse it to
    // reach their rootfs, as they traverse a runner's own root (0711).
    chmodSync(h.root, 0o711);
    // The harness's private id block and /24, split in two: one half per runner.
    const [blockStart, blockSize] = String(h.env["WARREN_ID_RANGE"]).split(":").map(Number) as [
      number,
      number,
    ];
    const net = String(h.env["WARREN_SUBNET"]).replace(/\.0\/24$/, "");
    const half = Math.floor(blockSize / BLOCK / 2) * BLOCK;
    server = await startServerProcess({
      db: path.join(h.root, "server"),
      root: path.join(h.root, "server"),
      env: { WARREN_RUNNER_GRACE_MS: String(GRACE_MS) },
    });
    const owner = await callJson(server.local, "POST", "/api/v1/tokens", { name: "e2e" });
    assert.equal(owner.status, 201, JSON.stringify(owner.body));
    userToken = (owner.body as { token: string }).token;
    api = createClient({
      transport: tlsTransport({ url: server.url, fingerprint: server.fingerprint, token: userToken }),
    });
    const admin = createClient({ transport: server.local });
    for (const [i, name] of ["a", "b"].entries()) {
      const root = path.join(h.root, name);
      mkdirSync(root, { recursive: true });
      const { token } = await admin.createRunnerToken({ name });
      const tokenFile = path.join(h.root, `${name}.token`);
      writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
      const log = path.join(h.root, `runner-${name}.log`);
      writeFileSync(log, "");
      const env: NodeJS.ProcessEnv = {
        ...h.env,
        WARREN_ID_RANGE: `${blockStart + i * half}:${half}`,
        WARREN_SUBNET: `${net}.${i * 128}/25`,
      };
      // Flags, not the harness's WARREN_ROOT/RUN/PREFIX, say where each runner lives.
      for (const k of ["WARREN_ROOT", "WARREN_RUN", "WARREN_PREFIX"]) delete env[k];
      runners.push({ name, root, prefix: `${h.prefix}${name}`, env, tokenFile, log });
    }
    await Promise.all(runners.map((r) => startRunner(r)));
  });

  after(async () => {
    try {
      await Promise.all(made.map((name) => api?.deleteEnvironment(name, true).catch(() => undefined)));
    } finally {
      for (const r of runners) await stopRunner(r, "SIGTERM");
      await server?.stop();
      for (const r of runners) forceClean(r.root, r.prefix, { subnet: r.env["WARREN_SUBNET"] });
      await h?.teardown();
    }
  });

  it("a runner whose id range overlaps a live runner's is refused, naming it", () => {
    const b = runners[1]!;
    const root = path.join(h.root, "c");
    const r = spawnSync(
      process.execPath,
      [
        MAIN,
        "runner",
        "--server",
        server!.url,
        "--fingerprint",
        server!.fingerprint,
        "--token-file",
        b.tokenFile,
      ].concat(["--name", "c", "--root", root, "--run", path.join(root, "run"), "--prefix", `${h.prefix}c`]),
      { env: { ...b.env, WARREN_SUBNET: "10.202.250.0/24" }, encoding: "utf8", timeout: 20_000 },
    );
    assert.equal(r.status, 1, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(`id range ${b.env["WARREN_ID_RANGE"]} overlaps runner \`b\` \\(pid ${b.child!.pid}\\)`),
    );
    assert.doesNotMatch(r.stderr, /subnet|state root|run directory|prefix/);
    assert.deepEqual(leftovers(root, `${h.prefix}c`), []);
  });

  it("the fleet lists both runners with their labels, capacity and live usage", async () => {
    const res = await callJson(server!.tls(userToken), "GET", "/api/v1/fleet/runners");
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const items = (res.body as FleetList).items.sort((x, y) => x.name.localeCompare(y.name));
    assert.deepEqual(
      items.map((r) => [r.name, r.state, r.labels]),
      [
        ["a", "ready", { zone: "a" }],
        ["b", "ready", { zone: "b" }],
      ],
    );
    for (const r of items) {
      // Each runner's half of the id block, less the image unpacker's last block.
      assert.equal(
        r.capacity.slots,
        runners[0]!.env["WARREN_ID_RANGE"]!.split(":").map(Number)[1]! / BLOCK - 1,
      );
      assert.ok(r.used && r.used.memoryWorkingSetBytes > 0, JSON.stringify(r.used));
    }
  });

  it("environments spread over both runners; a class requiring zone=b lands on b", async () => {
    // One after the other: the second placement sees the first's allocation and spreads.
    const e1 = await up("one");
    const e2 = await up("two");
    assert.deepEqual([runnerOf(e1), runnerOf(e2)].sort(), ["a", "b"], `${e1.placement} / ${e2.placement}`);
    assert.match(e1.placement ?? "", new RegExp(`placed on ${runnerOf(e1)}`));
    const cls = h.cli(
      [
        "class",
        "create",
        "zb",
        "--cpus",
        "1",
        "--memory",
        "256m",
        "--disk",
        "256m",
        "--require-label",
        "zone=b",
      ],
      { env: { WARREN_SOCKET: server!.socket } },
    );
    assert.equal(cls.status, 0, cls.stderr);
    // Spreading alone would not pick b twice in a row for the same owner: the label does.
    for (const name of ["zb-one", "zb-two"]) assert.equal(runnerOf(await up(name, "zb")), "b");
  });

  it("exec reaches each environment's own runner", async () => {
    for (const name of ["one", "two"]) {
      const env = await api.getEnvironment(name);
      // Each runner's environments get addresses from that runner's own half of the /24.
      const r = await exec(name, [
        "sh",
        "-c",
        `echo ${name} > /workspaces/${name}/f; cat /workspaces/${name}/f; hostname -I; exit 7`,
      ]);
      assert.equal(r.code, 7);
      const [out, ip] = r.stdout.trim().split("\n");
      assert.equal(out, name);
      const last = Number(ip?.trim().split(".")[3]);
      assert.equal(last >= 128, runnerOf(env) === "b", `address ${ip} on runner ${runnerOf(env)}`);
    }
  });

  it("a cordoned runner takes no new environments", async () => {
    const cordon = await callJson(server!.tls(userToken), "POST", "/api/v1/fleet/runners/a/cordon", {});
    assert.equal(cordon.status, 200, JSON.stringify(cordon.body));
    // a holds one environment and b three: spreading would choose a, the cordon forbids it.
    assert.equal(runnerOf(await up("after-cordon")), "b");
    const uncordon = await callJson(server!.tls(userToken), "POST", "/api/v1/fleet/runners/a/uncordon", {});
    assert.equal(uncordon.status, 200, JSON.stringify(uncordon.body));
  });

  it("a killed runner's environment gains RunnerUnreachable; its return clears it", async () => {
    const a = runners[0]!;
    const all = await api.listEnvironments();
    const onA = all.filter((e) => runnerOf(e) === "a").map((e) => e.name);
    assert.equal(onA.length, 1, JSON.stringify(all.map((e) => [e.name, runnerOf(e)])));
    const [lost, kept] = onA[0] === "one" ? ["one", "two"] : ["two", "one"];
    const pidBefore = (await api.getEnvironment(lost)).observed?.pid;
    await stopRunner(a, "SIGKILL");
    const cond = await until("RunnerUnreachable", async () => unreachable(await api.getEnvironment(lost)));
    assert.equal(cond.status, "True");
    assert.ok(Date.parse(cond.at ?? "") > 0, JSON.stringify(cond));
    // The environment keeps its last observed state; b's are untouched.
    assert.equal((await api.getEnvironment(lost)).state, "running");
    assert.equal(unreachable(await api.getEnvironment(kept)), undefined);
    const shown = h.cli(["inspect", lost], { env: { WARREN_SOCKET: server!.socket } });
    assert.match(shown.stdout, /RunnerUnreachable/, shown.stdout + shown.stderr);

    await startRunner(a);
    await until("the condition cleared", async () =>
      unreachable(await api.getEnvironment(lost)) ? undefined : true,
    );
    const r = await exec(lost, ["cat", `/workspaces/${lost}/f`]);
    assert.deepEqual(r, { code: 0, stdout: `${lost}\n` });
    assert.equal((await api.getEnvironment(lost)).observed?.pid, pidBefore, "re-adopted, not restarted");
  });

  it("rm through the server leaves nothing on either runner's host objects", async () => {
    await Promise.all(made.splice(0).map((name) => api.deleteEnvironment(name, true)));
    for (const r of runners) assert.deepEqual(leftovers(r.root, r.prefix), [], r.name);
  });
});
