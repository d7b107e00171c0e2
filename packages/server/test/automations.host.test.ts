// A repository's automations in a real environment (runc): warren-supervise, bound read-only at
// /.warren/supervise and started through the runtime's exec, starts services in dependsOn order
// as the configured user, restarts a crashed one, runs start-triggered tasks once per start of
// the environment, and takes `service stop|start` and `task run` from the service layer.
import assert from "node:assert/strict";
import { randomBytes, randomInt } from "node:crypto";
import { existsSync, readdirSync, rmdirSync } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import path from "node:path";
import { after, before, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { type Automations, DEFAULT_IMAGE, type RunnerEnvSpec } from "@warren/protocol";
import { createRunner, type Engine, removeHostNetwork } from "@warren/runner";
import { runExec } from "@warren/testing/conformance";
import { baseCacheDir, buildBaseImageCached } from "@warren/testing/oci-layout";
import type { Actor } from "../src/services/actor.ts";
import {
  type AutomationOps,
  createAutomationService,
  startAutomations,
} from "../src/services/automations.ts";
import type { EnvRow } from "../src/store/queries/envs.ts";

const TAG = randomBytes(3).toString("hex");
const PREFIX = `wt${TAG}`;
const DIR = `/tmp/warren-automations-${TAG}`;
process.env["WARREN_SUBNET"] = `10.205.${randomInt(1, 250)}.0/24`;
const ID = `${TAG}autom1`;
const SPEC: RunnerEnvSpec = {
  id: ID,
  name: "automations",
  slot: 1,
  image: DEFAULT_IMAGE,
  runtime: "runc",
  resources: { cpus: 1, memoryBytes: 512 * 1024 ** 2, diskBytes: 256 * 1024 ** 2, pids: 512 },
};

// db becomes ready half a second after it starts; web records whether db was ready when it started.
const AUTOMATIONS: Automations = {
  services: [
    {
      name: "web",
      command:
        "if test -e /tmp/db-ready; then echo yes; else echo no; fi >> /tmp/web-saw; echo $$ > /tmp/web.pid; echo web up; exec sleep 1000",
      restart: "on-failure",
      dependsOn: ["db"],
    },
    {
      name: "db",
      command: "rm -f /tmp/db-ready; sleep 0.5; touch /tmp/db-ready; exec sleep 1000",
      ready: { command: "test -e /tmp/db-ready" },
      restart: "on-failure",
      dependsOn: [],
    },
  ],
  tasks: [
    {
      name: "count",
      command: 'echo "counted by $(id -un) in $(pwd) with $GREETING"; echo run >> /workspaces/count',
      dependsOn: ["db"],
      triggeredBy: ["postEnvironmentStart"],
    },
    { name: "fails", command: "echo failing; exit 3", dependsOn: [], triggeredBy: ["manual"] },
  ],
};

let engine: Engine;
const row = { id: ID, name: "automations", state: "running" } as unknown as EnvRow;
const actor = {} as Actor;
let ops: AutomationOps;

async function sh(script: string): Promise<string> {
  const r = await runExec(engine, ID, ["/bin/sh", "-c", script], { req: { user: "0" } });
  assert.equal(r.code, 0, `${script}: ${r.stderr}`);
  return r.stdout;
}

async function start(trigger: "postEnvironmentStart" | "postDevcontainerStart", log: string[]) {
  await startAutomations(engine, ID, AUTOMATIONS, {
    user: "dev",
    cwd: "/workspaces/repo",
    env: { GREETING: "hello" },
    trigger,
    log: (l) => log.push(l),
  });
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) assert.fail(`${what}: not within ${ms} ms`);
    await sleep(100);
  }
}

const service = async (name: string) =>
  (await ops.listServices(actor, "automations")).items.find((s) => s.name === name);

before(async () => {
  await mkdir(DIR, { recursive: true });
  await buildBaseImageCached(path.join(DIR, "img"));
  engine = await createRunner({
    root: path.join(DIR, "root"),
    runDir: path.join(DIR, "run"),
    prefix: PREFIX,
    imagesDir: path.join(baseCacheDir(), "images"),
    idRange: { start: 4_100_000_000 + randomInt(20, 40) * 65536 * 8, size: 65536 * 8 },
  });
  await engine.ensureRunning(SPEC);
  await sh("useradd -m dev && mkdir -p /workspaces/repo && chown dev /workspaces /workspaces/repo");
  ops = createAutomationService({
    envs: { find: async () => row, requireRunning: async () => row },
    runner: engine,
    automationsOf: async () => AUTOMATIONS,
  });
});

after(async () => {
  await engine?.remove(ID).catch(() => undefined);
  await engine?.close();
  if (engine) await removeHostNetwork(engine.ctx.cfg).catch(() => undefined);
  for (const ctrl of readdirSync("/sys/fs/cgroup")) {
    const d = path.join("/sys/fs/cgroup", ctrl, PREFIX);
    if (existsSync(d)) rmdirSync(d);
  }
  await rm(DIR, { recursive: true, force: true });
});

it("starts services after their dependencies, as the user; a start-triggered task runs once", async () => {
  assert.equal(
    await sh("test -x /.warren/supervise && ! (echo x >> /.warren/supervise) 2>/dev/null && echo ro"),
    "ro\n",
  );
  const log: string[] = [];
  await start("postEnvironmentStart", log);
  await start("postEnvironmentStart", log); // the same start again: nothing runs twice
  await start("postDevcontainerStart", log);
  assert.equal(await sh("cat /workspaces/count"), "run\n", "the task ran once in this start");
  assert.ok(log.includes("count: counted by dev in /workspaces/repo with hello"), log.join("\n"));
  assert.equal(await sh("cat /tmp/web-saw"), "yes\n", "web started after db was ready");
  const web = await until("web ready", async () =>
    (await service("web"))?.state === "ready" ? service("web") : undefined,
  );
  assert.equal(await sh(`stat -c %U /proc/${web?.pid}`), "dev\n", "services run as the configured user");
  assert.equal((await ops.listTasks(actor, "automations")).items.find((t) => t.name === "count")?.runs, 1);
});

it("restarts a crashed service by its policy", async () => {
  const before = await service("web");
  assert.ok(before?.pid);
  await sh(`kill -9 ${before.pid}`);
  const after = await until("web restarted", async () => {
    const s = await service("web");
    return s?.state === "ready" && s.pid !== before.pid ? s : undefined;
  });
  assert.equal(after.restarts, 1);
  assert.equal(after.exitCode, 137, "the crash's status is kept");
  assert.equal(await sh("cat /tmp/web-saw"), "yes\nyes\n");
});

it("service stop keeps it stopped until started; task run reports the exit status", async () => {
  const pid = (await service("web"))?.pid;
  const stopped = await ops.serviceAction(actor, "automations", "web", "stop");
  assert.ok(stopped.state === "stopping" || stopped.state === "stopped", stopped.state);
  await until("web stopped", async () => ((await service("web"))?.state === "stopped" ? true : undefined));
  assert.equal(await sh(`kill -0 ${pid} 2>/dev/null || echo gone`), "gone\n");
  await sleep(700); // past the first restart backoff: a stopped service is not restarted
  assert.equal((await service("web"))?.state, "stopped");
  await ops.serviceAction(actor, "automations", "web", "start");
  await until("web back", async () => ((await service("web"))?.state === "ready" ? true : undefined));

  const failed = await ops.runTask(actor, "automations", "fails");
  assert.equal(failed.state, "failed");
  assert.equal(failed.exitCode, 3);
  assert.match(await ops.logs(actor, "automations", "task", "fails", 5), /failing\n/);
  await assert.rejects(ops.runTask(actor, "automations", "nope"), /has no task named "nope"/);
});

it("after a stop and start: services come back and the task runs once more", async () => {
  await engine.ensureStopped(SPEC, 2000);
  await engine.ensureRunning(SPEC);
  const log: string[] = [];
  await start("postEnvironmentStart", log);
  await start("postEnvironmentStart", log);
  assert.equal(await sh("cat /workspaces/count"), "run\nrun\n", "once per start of the environment");
  await until("db and web ready", async () => {
    const { items, running } = await ops.listServices(actor, "automations");
    return running && items.every((s) => s.state === "ready") ? true : undefined;
  });
});
