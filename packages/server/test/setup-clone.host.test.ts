// cloneRepo and runDotfiles against real environments (the base image on crun, a user of its
// own) and real git servers (git daemon and smart HTTP behind basic auth) in a test netns that
// environments reach through the runner's NAT. A private repository clones with the
// git-credentials secret, and its password is then searched for, and not found, in: the clone's
// log, every process's argv and environment sampled on the host while the clone runs, the
// runner's whole root on the host's disk (the environment's disk image included, byte for
// byte), the runner's view of the environment, and the clone's own .git.
import assert from "node:assert/strict";
import { randomBytes, randomInt } from "node:crypto";
import { existsSync, readdirSync, rmdirSync } from "node:fs";
import { mkdir, open, readdir, readFile, rm } from "node:fs/promises";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { setImmediate as yieldNow } from "node:timers/promises";
import { DEFAULT_IMAGE, type RunnerEnvSpec, WarrenError } from "@warren/protocol";
import { createRunner, type Engine, removeHostNetwork, run } from "@warren/runner";
import { runExec } from "@warren/testing/conformance";
import { type GitServers, startGitServers } from "@warren/testing/git-servers";
import { baseCacheDir, buildBaseImageCached } from "@warren/testing/oci-layout";
import { cloneRepo, runDotfiles } from "../src/controllers/setup/clone.ts";

const CI = process.env["CI"] === "true";
const ready = process.getuid?.() === 0 && existsSync("/usr/lib/git-core/git-http-backend");
const skip = !ready && !CI ? "needs root and git" : false;
const TAG = randomBytes(3).toString("hex");
const PREFIX = `wg${TAG}`;
const DIR = `/tmp/warren-clone-${TAG}`;
process.env["WARREN_SUBNET"] = `10.204.${randomInt(1, 250)}.0/24`;
const USER = "dev";

let engine: Engine;
let git: GitServers;
const envs: string[] = [];

function spec(n: number, withSecret: boolean): RunnerEnvSpec {
  const id = `${TAG}clone${n}`;
  envs.push(id);
  return {
    id,
    name: `clone-${n}`,
    slot: n,
    image: DEFAULT_IMAGE,
    runtime: "crun",
    user: USER,
    resources: { cpus: 1, memoryBytes: 512 * 1024 ** 2, diskBytes: 256 * 1024 ** 2, pids: 512 },
    ...(withSecret
      ? { secrets: [{ name: "git-credentials", kind: "file" as const, value: `${git.credentialLine()}\n` }] }
      : {}),
  };
}

async function sh(id: string, script: string): Promise<string> {
  const r = await runExec(engine, id, ["sh", "-c", script], { req: { user: USER } });
  assert.equal(r.code, 0, `${script}: ${r.stderr}`);
  return r.stdout;
}

/** Every process's argv and environment on the host, sampled until `stop` resolves. */
async function sampleProcesses(stop: Promise<unknown>): Promise<{ texts: Set<string>; sweeps: number }> {
  const texts = new Set<string>();
  let done = false;
  void stop.finally(() => {
    done = true;
  });
  let sweeps = 0;
  while (!done) {
    for (const pid of await readdir("/proc")) {
      if (!/^\d+$/.test(pid)) continue;
      for (const f of ["cmdline", "environ"]) {
        const t = await readFile(`/proc/${pid}/${f}`).catch(() => undefined);
        if (t?.length) texts.add(t.toString("latin1"));
      }
    }
    sweeps++;
    await yieldNow();
  }
  return { texts, sweeps };
}

/**
 * Files under `dir` (not following links) whose bytes hold `needle`; big files are streamed, so
 * an environment's disk.img is searched byte for byte, deleted blocks included.
 */
async function filesHolding(
  dir: string,
  needle: Buffer,
): Promise<{ hits: string[]; files: number; unreadable: string[] }> {
  const hits: string[] = [];
  const unreadable: string[] = [];
  let files = 0;
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true }).catch(() => [])) {
      const p = path.join(d, e.name);
      // An environment's mounts (its disk, image layers and root) are read as disk.img, raw.
      if (e.isDirectory()) {
        if (!/\/envs\/[^/]+\/(disk|lower|rootfs)$/.test(p)) await walk(p);
      } else if (e.isFile()) {
        files++;
        const fh = await open(p, "r").catch(() => undefined);
        if (!fh) continue;
        try {
          const chunk = Buffer.alloc(4 * 1024 * 1024);
          let carry = Buffer.alloc(0);
          for (;;) {
            const { bytesRead } = await fh
              .read(chunk, 0, chunk.length)
              .catch((err: NodeJS.ErrnoException) => {
                unreadable.push(`${p}: ${err.code}`);
                return { bytesRead: 0 };
              });
            if (bytesRead === 0) break;
            const window = Buffer.concat([carry, chunk.subarray(0, bytesRead)]);
            if (window.includes(needle)) {
              hits.push(p);
              break;
            }
            carry = window.subarray(Math.max(0, window.length - needle.length));
          }
        } finally {
          await fh.close();
        }
      }
    }
  };
  await walk(dir);
  return { hits, files, unreadable };
}

describe("cloning inside environments", { skip, timeout: 120_000 }, () => {
  let withCreds: string;
  let noCreds: string;

  before(async () => {
    await mkdir(DIR, { recursive: true });
    // Each authenticated HTTP request waits a little, so the sampler sees the clone's processes.
    git = await startGitServers({ httpDelaySeconds: 0.3 });
    await git.createRepo("pub", { "README.md": "public content\n", "sub/file.txt": "nested\n" });
    await git.createRepo("priv", { "private.txt": "private content\n" }, { private: true });
    await git.createRepo("dots", {
      "install.sh":
        '#!/bin/sh\necho "$(id -un) $(git config --global user.name) <$(git config --global user.email)>" > "$HOME/.dotfiles-installed"\necho installing dotfiles\n',
      ".vimrc": "set nocompatible\n",
    });
    await buildBaseImageCached(path.join(DIR, "img"));
    engine = await createRunner({
      root: path.join(DIR, "root"),
      runDir: path.join(DIR, "run"),
      prefix: PREFIX,
      imagesDir: path.join(baseCacheDir(), "images"),
      idRange: { start: 4_200_000_000 + randomInt(0, 20) * 65536 * 8, size: 65536 * 8 },
    });
    const a = spec(1, true);
    const b = spec(2, false);
    await Promise.all([engine.ensureRunning(a), engine.ensureRunning(b)]);
    withCreds = a.id;
    noCreds = b.id;
  });

  after(async () => {
    for (const id of envs) await engine?.remove(id).catch(() => undefined);
    await engine?.close();
    if (engine) await removeHostNetwork(engine.ctx.cfg).catch(() => undefined);
    for (const ctrl of readdirSync("/sys/fs/cgroup")) {
      const d = path.join("/sys/fs/cgroup", ctrl, PREFIX);
      if (existsSync(d)) rmdirSync(d);
    }
    await git?.cleanup();
    await rm(DIR, { recursive: true, force: true });
  });

  it("clones over git:// into /workspaces/DIR as the environment's user", async () => {
    const log: string[] = [];
    await cloneRepo(engine, { id: withCreds }, { url: git.gitUrl("pub"), dir: "pub" }, (l) => log.push(l));
    assert.equal(
      await sh(withCreds, "cat /workspaces/pub/README.md /workspaces/pub/sub/file.txt"),
      "public content\nnested\n",
    );
    assert.equal(
      await sh(withCreds, "stat -c %U /workspaces/pub /workspaces/pub/README.md"),
      `${USER}\n${USER}\n`,
    );
    assert.ok(
      log.some((l) => l.includes("cloned into /workspaces/pub")),
      log.join("\n"),
    );
    assert.ok(
      log.some((l) => /Cloning into/.test(l)),
      "git's own output reaches the log",
    );
  });

  it("keeps a complete clone on a retry, and replaces a half one", async () => {
    const log: string[] = [];
    await cloneRepo(engine, { id: withCreds }, { url: git.gitUrl("pub"), dir: "pub" }, (l) => log.push(l));
    assert.ok(
      log.some((l) => l.includes("already holds a clone; keeping it")),
      log.join("\n"),
    );
    // What a crash mid-clone leaves: a .git without the completion marker, and stray files.
    const root = await runExec(
      engine,
      withCreds,
      ["sh", "-c", `mkdir /workspaces/half && chown ${USER}: /workspaces/half`],
      { req: { user: "0:0" } },
    );
    assert.equal(root.code, 0, root.stderr);
    await sh(withCreds, "mkdir /workspaces/half/.git && echo junk > /workspaces/half/junk");
    const again: string[] = [];
    await cloneRepo(engine, { id: withCreds }, { url: git.gitUrl("pub"), dir: "half" }, (l) => again.push(l));
    assert.ok(
      again.some((l) => l.includes("not a complete clone")),
      again.join("\n"),
    );
    assert.equal(await sh(withCreds, "ls -A /workspaces/half | sort | tr '\\n' ' '"), ".git README.md sub ");
    assert.equal(await sh(withCreds, "git -C /workspaces/half status --porcelain"), "", "a clean checkout");
  });

  it("clones a private repository over authenticated HTTP with the git-credentials secret, which appears nowhere else", async () => {
    const needle = Buffer.from(git.password);
    const log: string[] = [];
    const clone = cloneRepo(engine, { id: withCreds }, { url: git.httpUrl("priv"), dir: "priv" }, (l) =>
      log.push(l),
    );
    const sampled = sampleProcesses(clone.catch(() => undefined));
    await clone;
    const { texts, sweeps } = await sampled;
    assert.equal(await sh(withCreds, "cat /workspaces/priv/private.txt"), "private content\n");
    // The server asked, and the helper answered with the secret's credential.
    const reqs = git.httpRequests();
    assert.ok(
      reqs.some((r) => r.status === 401),
      JSON.stringify(reqs),
    );
    assert.ok(
      reqs.some((r) => r.user === git.user && r.path === "/priv.git/git-upload-pack" && r.status === 200),
    );
    // The sampler saw the clone's git processes, so what it did not see means something.
    const all = [...texts];
    assert.ok(sweeps > 3, `only ${sweeps} sweeps`);
    assert.ok(
      all.some((t) => t.includes("git-remote-http") || t.includes(git.httpUrl("priv"))),
      "git's processes were sampled",
    );
    assert.ok(
      all.some((t) => t.includes("credential.helper=")),
      "the helper is named by path only",
    );
    assert.deepEqual(
      all.filter((t) => t.includes(git.password)).map((t) => t.slice(0, 120)),
      [],
      "in a process's argv or environment",
    );
    assert.deepEqual(
      log.filter((l) => l.includes(git.password)),
      [],
      "in the log",
    );
    assert.equal(
      (await sh(withCreds, `grep -rl -- '${git.password}' /workspaces/priv || echo none`)).trim(),
      "none",
    );
    assert.ok(
      !JSON.stringify(await engine.observe(withCreds)).includes(git.password),
      "in the runner's view",
    );
    await run("sync", []);
    const disk = await filesHolding(path.join(DIR, "root"), needle);
    assert.ok(disk.files > 3, `searched ${disk.files} files`);
    assert.deepEqual(disk.hits, [], "on the host's disk under the runner root");
    // Runtime files can vanish or refuse reads mid-walk; the disk images must all be read.
    assert.deepEqual(
      disk.unreadable.filter((f) => f.includes("disk.img")),
      [],
      "every disk image was searched",
    );
    assert.deepEqual((await filesHolding(path.join(DIR, "run"), needle)).hits, [], "under the run dir");
  });

  it("without credentials, a private clone fails naming the secret to set, and leaves nothing behind", async () => {
    const err = await cloneRepo(
      engine,
      { id: noCreds },
      { url: git.httpUrl("priv"), dir: "priv" },
      () => {},
    ).then(
      () => assert.fail("cloned without credentials"),
      (e: unknown) => e,
    );
    assert.ok(err instanceof WarrenError);
    assert.equal(err.code, "CLONE_FAILED");
    assert.match(err.message, /asked for credentials: set a file secret git-credentials/);
    assert.equal(await sh(noCreds, "ls -A /workspaces/priv | wc -l"), "0\n");
  });

  it("runDotfiles sets the git identity, clones the dotfiles and runs their install script as the user", async () => {
    const log: string[] = [];
    await runDotfiles(
      engine,
      { id: withCreds },
      { gitName: "Ada Lovelace", gitEmail: "ada@example.com", dotfiles: git.gitUrl("dots") },
      { user: USER },
      (l) => log.push(l),
    );
    assert.equal(
      await sh(withCreds, "cat ~/.dotfiles-installed"),
      `${USER} Ada Lovelace <ada@example.com>\n`,
    );
    assert.ok(log.includes("installing dotfiles"), log.join("\n"));
    assert.equal(await sh(withCreds, "stat -c %U ~/dotfiles/.vimrc"), `${USER}\n`);
  });
});

if (CI && !ready) assert.fail("the clone host test needs root and git-http-backend in CI");
