// Prebuilds through the services on real SQLite and the fake runner: `warren prebuild` makes a
// prebuild environment; once its setup is done its disk is saved as the template keyed by
// (organisation, repository, branch, configuration digest), the row is ready and the environment
// is gone; `up --repo` of that repository and branch then creates an environment with the
// prebuild's image whose runner spec names the template, in phase `update`; another branch does
// not match. The setup controller's own steps (clone, hooks) are host tests' business: here the
// environment's exec is scripted at the process boundary (git rev-parse, cat of the config).
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { DEFAULT_IMAGE, type ExecHandlers, type ExecRequest, type RunnerEnvSpec } from "@warren/protocol";
import { type Harness, harness, ROOT } from "@warren/testing/server-harness";
import { systemClock } from "../src/clock.ts";
import { finishPrebuild } from "../src/controllers/setup/prebuild-finish.ts";
import { configDigest, templateKey } from "../src/controllers/setup/prebuild-key.ts";
import { matchPrebuild } from "../src/controllers/setup/prebuild-match.ts";
import { silentLogger } from "../src/logger.ts";
import { createEnvironmentService, type EnvironmentService } from "../src/services/environments.ts";
import { createPrebuildService, type PrebuildService } from "../src/services/prebuilds.ts";
import { oneRunner } from "../src/services/runner-for.ts";
import { getEnvById } from "../src/store/queries/envs.ts";
import { listPrebuilds } from "../src/store/queries/prebuilds.ts";
import { parseSetup, saveSetup } from "../src/store/queries/setups.ts";

const URL = "https://git.example/acme/app.git";
const CONFIG = ".devcontainer/devcontainer.json";
const CONFIG_TEXT = '{ "image": "warren/debian:bookworm", "onCreateCommand": "make deps" }';
const SHA = "0123456789abcdef0123456789abcdef01234567";

let h: Harness;
let envs: EnvironmentService;
let prebuilds: PrebuildService;

before(async () => {
  h = await harness();
  // The environment's processes, scripted: its checkout's commit and its devcontainer.json.
  const exec = h.runner.exec.bind(h.runner);
  h.runner.exec = async (id: string, req: ExecRequest, hd: ExecHandlers) => {
    const [cmd] = req.cmd;
    const reply = (out: string, code = 0) => {
      setImmediate(() => {
        if (out) hd.stdout(Buffer.from(out));
        hd.exit(code);
      });
      return { stdin() {}, endStdin() {}, resize() {}, signal() {} };
    };
    if (cmd === "git" && req.cmd.includes("rev-parse")) return reply(`${SHA}\n`);
    if (cmd === "rmdir") return reply("");
    if (cmd === "/bin/sh" && req.cmd.at(-1) === `/workspaces/app/${CONFIG}`) return reply(CONFIG_TEXT);
    return exec(id, req, hd);
  };
  envs = createEnvironmentService({
    db: h.store.db,
    runner: h.runner,
    clock: systemClock,
    logger: silentLogger,
    changes: h.changes,
    enqueue: (id) => h.controller.enqueue(id, { now: true }),
    defaultRuntime: "runc",
    settleTimeoutMs: 5000,
    pollMs: 50,
    prebuilds: {
      fromTemplate: (a, made) => matchPrebuild({ db: h.store.db, runnerFor: oneRunner(h.runner) }, a, made),
    },
  });
  prebuilds = createPrebuildService({
    db: h.store.db,
    clock: systemClock,
    envs,
    runnerFor: oneRunner(h.runner),
  });
});
after(() => h?.close());

async function until<T>(what: string, f: () => Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 200; i++) {
    const v = await f();
    if (v) return v;
    await sleep(25);
  }
  throw new Error(`timed out waiting for ${what}`);
}

test("a prebuild's disk becomes a template, and up --repo of that branch starts from it", async () => {
  const pb = await prebuilds.create(ROOT, { repo: URL, branch: "main" });
  assert.equal(pb.state, "building");
  assert.equal(pb.repo, "https://git.example/acme/app");
  const [row] = await listPrebuilds(h.store.db);
  const envId = row?.env_id as string;
  const env = await until("the prebuild environment to run", async () => {
    const e = await getEnvById(h.store.db, envId);
    return e?.state === "running" ? e : undefined;
  });
  const setup = parseSetup(env);
  assert.equal(setup?.prebuild, true, "its setup is marked as a prebuild's");
  assert.equal(setup?.phase, "clone");

  // Not done yet: nothing happens.
  await finishPrebuild(deps(), envId);
  assert.equal(h.runner.templates.size, 0);

  // What the setup controller leaves once onCreate and updateContent ran.
  await saveSetup(
    h.store.db,
    envId,
    {
      ...(setup as NonNullable<typeof setup>),
      phase: "ready",
      created: true,
      settled: true,
      configFile: CONFIG,
      image: DEFAULT_IMAGE,
      merged: { onCreateCommands: ["make deps"] },
      hooks: [{ name: "onCreateCommand", state: "done", exitCode: 0 }],
    },
    new Date().toISOString(),
  );
  await finishPrebuild(deps(), envId);

  const key = templateKey({
    orgId: (env as { org_id?: string }).org_id as string,
    repo: URL,
    branch: "main",
    configDigest: configDigest([{ path: CONFIG, text: CONFIG_TEXT }]),
  });
  assert.deepEqual([...h.runner.templates.keys()], [key]);
  assert.equal(h.runner.callsOf("saveTemplate")[0]?.[0], envId);
  const [ready] = await prebuilds.list(ROOT);
  assert.equal(ready?.state, "ready");
  assert.equal(ready?.commit, SHA);
  assert.equal(await getEnvById(h.store.db, envId), undefined, "the prebuild environment is deleted");

  // up --repo of the same repository and branch (another URL form).
  const { env: fromPb } = await envs.create(ROOT, {
    repo: { url: "https://git.example/acme/app", branch: "main" },
  });
  const fresh = await getEnvById(h.store.db, fromPb.id);
  const s = fresh && parseSetup(fresh);
  assert.equal(s?.phase, "update");
  assert.equal(s?.fromPrebuild?.template, key);
  assert.equal(s?.fromPrebuild?.commit, SHA);
  assert.deepEqual(
    s?.hooks.map((x) => x.name),
    ["onCreateCommand"],
    "the prebuild's hook runs show",
  );
  const started = h.runner.callsOf("ensureRunning").map((c) => c[0] as RunnerEnvSpec);
  assert.equal(
    started.find((sp) => sp.id === fromPb.id)?.template,
    key,
    "its disk is made from the template",
  );

  // Another branch has no prebuild: the usual way.
  const { env: other } = await envs.create(ROOT, { repo: { url: URL, branch: "dev" } });
  const o = await getEnvById(h.store.db, other.id);
  assert.equal(o && parseSetup(o)?.phase, "clone");
  assert.equal(
    h.runner
      .callsOf("ensureRunning")
      .some((c) => (c[0] as RunnerEnvSpec).id === other.id && (c[0] as RunnerEnvSpec).template),
    false,
  );

  // Removing the prebuild removes its template.
  await prebuilds.remove(ROOT, URL, "main");
  assert.equal(h.runner.templates.size, 0);
  assert.deepEqual(await prebuilds.list(ROOT), []);
});

test("the webhook needs an existing prebuild; --every needs at least 10 minutes", async () => {
  await assert.rejects(
    prebuilds.webhook(ROOT, { repo: "https://git.example/acme/none.git" }),
    /no prebuild of/,
  );
  await assert.rejects(prebuilds.create(ROOT, { repo: URL, every: "5m" }), /at least 10m/);
  await assert.rejects(prebuilds.create(ROOT, { repo: "file:///srv/repo" }), (e: Error) =>
    /repo/.test(e.message),
  );
});

function deps() {
  return {
    db: h.store.db,
    runner: h.runner,
    runnerFor: oneRunner(h.runner),
    envs,
    clock: systemClock,
    logger: silentLogger,
  };
}
