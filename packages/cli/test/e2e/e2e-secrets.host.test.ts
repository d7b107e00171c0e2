// Secrets end to end: a file secret and a variable secret appear inside a real environment
// (/run/secrets/NAME on a tmpfs, `printenv NAME` through `warren exec`), and a search of the
// daemon root (database and WAL, keys aside, envs/*/bundle, handle.json, console.log), the run
// dir (runtime state), the daemon log, `inspect --json`, the API and the audit log finds neither
// value in plain text. A file secret at /etc/app/app.conf is a symlink there into the tmpfs: the
// environment's disk holds the link, never the value. All survive `warren admin rotate-key` and a stop/start.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { type Harness, makeHarness } from "@warren/testing/e2e-harness";

const FILE_VALUE = `file-secret-${randomBytes(8).toString("hex")}`;
const ENV_VALUE = `env-secret-${randomBytes(8).toString("hex")}`;
/** A file secret at a path of the image's (/etc/app/app.conf): a symlink there into the tmpfs. */
const APP_VALUE = `app-secret-${randomBytes(8).toString("hex")}`;
const APP_PATH = "/etc/app/app.conf";

/** Regular files under dir, skipping the environment's own disk and rootfs mounts. */
async function* files(dir: string): AsyncGenerator<string> {
  const entries = await fs.readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) {
      if (/\/envs\/[^/]+\/(disk|lower|rootfs)$/.test(p)) continue;
      yield* files(p);
    } else if (e.isFile() && e.name !== "disk.img") {
      yield p;
    }
  }
}

async function findPlaintext(h: Harness): Promise<string[]> {
  const hits: string[] = [];
  const needles = [FILE_VALUE, ENV_VALUE, APP_VALUE].map((v) => Buffer.from(v));
  let searched = 0;
  for await (const f of files(h.root)) {
    const bytes = await fs.readFile(f).catch(() => Buffer.alloc(0));
    searched++;
    for (const n of needles) if (bytes.includes(n)) hits.push(f);
  }
  assert.ok(searched > 5, `searched ${searched} files`);
  return hits;
}

describe("secrets (e2e)", { timeout: 300_000 }, () => {
  let h: Harness;
  before(async () => {
    h = await makeHarness("secrets");
    await h.startDaemon();
  });
  after(async () => {
    await h?.teardown();
  });

  const check = () => {
    const cat = h.cli(["exec", "sec", "--", "cat", "/run/secrets/FILE_S"]);
    assert.equal(cat.status, 0, cat.stderr);
    assert.equal(cat.stdout, FILE_VALUE);
    const st = h.cli(["exec", "sec", "--", "stat", "-c", "%a %u", "/run/secrets/FILE_S"]);
    assert.equal(st.stdout.trim(), "400 0", st.stderr);
    const fsType = h.cli(["exec", "sec", "--", "stat", "-f", "-c", "%T", "/run/secrets"]);
    assert.equal(fsType.stdout.trim(), "tmpfs", fsType.stderr);
    const env = h.cli(["exec", "sec", "--", "printenv", "ENV_S"]);
    assert.equal(env.status, 0, env.stderr);
    assert.equal(env.stdout.trim(), ENV_VALUE);
    const app = h.cli([
      "exec",
      "sec",
      "--",
      "sh",
      "-c",
      `readlink ${APP_PATH}; cat ${APP_PATH}; echo; stat -L -c '%a %u' ${APP_PATH}`,
    ]);
    assert.equal(app.stdout, `/run/secrets/~etc~app~app.conf\n${APP_VALUE}\n400 0\n`, app.stderr);
  };

  /** What the environment's disk (its overlay's upper dir) holds under /etc/app. */
  async function onDisk(name: string): Promise<{ link: string; valueFiles: string[] }> {
    const id = JSON.parse(h.cli(["inspect", name, "--json"]).stdout).id as string;
    const upper = path.join(h.root, "envs", id, "disk", "upper");
    const valueFiles: string[] = [];
    const walk = async (dir: string): Promise<void> => {
      for (const e of await fs.readdir(dir, { withFileTypes: true })) {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) await walk(p);
        else if (e.isFile() && (await fs.readFile(p)).includes(APP_VALUE)) valueFiles.push(p);
      }
    };
    await walk(upper);
    return { link: await fs.readlink(path.join(upper, APP_PATH)), valueFiles };
  }

  it("delivers a file and a variable secret into the environment", async () => {
    const f = h.cli(["secret", "set", "FILE_S", "--file", "--value-stdin"], { input: FILE_VALUE });
    assert.equal(f.status, 0, f.stderr);
    const e = h.cli(["secret", "set", "ENV_S", "--env", "--scope", "org", "--value-stdin"], {
      input: `${ENV_VALUE}\n`,
    });
    assert.equal(e.status, 0, e.stderr);
    const a = h.cli(["secret", "set", "app-conf", "--file", APP_PATH, "--value-stdin"], { input: APP_VALUE });
    assert.equal(a.status, 0, a.stderr);
    const ls = h.cli(["secret", "ls", "--json"]);
    assert.deepEqual(
      JSON.parse(ls.stdout).map((s: { name: string; scope: string; kind: string }) => [
        s.name,
        s.scope,
        s.kind,
      ]),
      [
        ["ENV_S", "org", "env"],
        ["FILE_S", "user", "file"],
        ["app-conf", "user", "file"],
      ],
    );
    const up = h.cli(["up", "--name", "sec", "--memory", "256m", "--disk", "1g", "--detach", "--json"]);
    assert.equal(up.status, 0, up.stderr);
    check();
    // The environment's disk holds the symlink, never the value.
    assert.deepEqual(await onDisk("sec"), { link: "/run/secrets/~etc~app~app.conf", valueFiles: [] });
  });

  it("keeps the store private inside the traversable state root", async () => {
    const mode = async (p: string) => (await fs.stat(p)).mode & 0o7777;
    // 0711: environments' mapped root uids traverse it to their own files (and did, just above).
    assert.equal(await mode(h.root), 0o711);
    assert.equal(await mode(path.join(h.root, "db")), 0o700);
    const db = path.join(h.root, "db", "warren.db");
    const present = [];
    for (const f of [db, `${db}-wal`, `${db}-shm`]) {
      const m = await mode(f).catch(() => undefined);
      if (m === undefined) continue;
      present.push(path.basename(f));
      assert.equal(m, 0o600, `${f} is ${m.toString(8)}`);
    }
    assert.deepEqual(
      present,
      ["warren.db", "warren.db-wal", "warren.db-shm"],
      "the daemon has it open in WAL mode",
    );
    await assert.rejects(fs.stat(path.join(h.root, "warren.db")), { code: "ENOENT" });
  });

  it("finds the values nowhere else in plain text", async () => {
    const outputs = [
      h.cli(["inspect", "sec", "--json"]).stdout,
      h.cli(["secret", "ls"]).stdout,
      h.cli(["secret", "ls", "--json"]).stdout,
      h.cli(["logs", "sec"]).stdout,
      h.cli(["audit", "ls", "--json"]).stdout,
    ].join("\n");
    assert.ok(!outputs.includes(FILE_VALUE) && !outputs.includes(ENV_VALUE) && !outputs.includes(APP_VALUE));
    assert.deepEqual(await findPlaintext(h), []);
  });

  it("survives admin rotate-key and a stop/start", async () => {
    const r = h.cli(["admin", "rotate-key", "--json"]);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { secrets: 3, registryLogins: 0 });
    assert.deepEqual((await fs.readdir(path.join(h.root, "keys"))).sort(), ["registry.key", "secrets.key"]);
    assert.equal(h.cli(["stop", "sec"]).status, 0);
    const start = h.cli(["start", "sec"]);
    assert.equal(start.status, 0, start.stderr);
    check();
    assert.deepEqual(await findPlaintext(h), []);
    assert.deepEqual((await onDisk("sec")).valueFiles, []);
  });

  it("reaches a gVisor environment too, written from inside the sandbox", async () => {
    const up = h.cli([
      "up",
      "--name",
      "gsec",
      "--runtime",
      "gvisor",
      "--memory",
      "256m",
      "--disk",
      "1g",
      "--detach",
    ]);
    assert.equal(up.status, 0, up.stderr);
    // (no `stat` here: this runsc rejects glibc's statx; README "Runtimes")
    const cat = h.cli(["exec", "gsec", "--", "cat", "/run/secrets/FILE_S"]);
    assert.equal(cat.status, 0, cat.stderr);
    assert.equal(cat.stdout, FILE_VALUE);
    const env = h.cli(["exec", "gsec", "--", "printenv", "ENV_S"]);
    assert.equal(env.stdout.trim(), ENV_VALUE, env.stderr);
    const app = h.cli(["exec", "gsec", "--", "sh", "-c", `readlink ${APP_PATH}; cat ${APP_PATH}`]);
    assert.equal(app.stdout, `/run/secrets/~etc~app~app.conf\n${APP_VALUE}`, app.stderr);
    const mounts = h.cli(["exec", "gsec", "--", "cat", "/proc/mounts"]);
    assert.match(mounts.stdout, /\/run\/secrets tmpfs/, "on the sandbox's own tmpfs");
    assert.deepEqual(await findPlaintext(h), []);
    assert.equal(h.cli(["rm", "-f", "gsec"]).status, 0);
  });
});
