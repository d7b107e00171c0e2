// A runaway allocation inside an environment kills only the runaway: the environment's init, a
// long-lived Warren helper session (started as the SSH relay and sftp-server are: an exec marked
// as a helper) and a running automation service survive, and the log names the victim. The
// helper holds MORE memory than the runaway reaches, so without the scores the kernel would kill
// the helper: the control run (the runaway started at the helper's score) shows exactly that.
// Engine on crun, busybox image plus two copies of a small static allocator. Needs root, crun, cc.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes, randomInt } from "node:crypto";
import { existsSync, readdirSync } from "node:fs";
import { copyFile, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type { ExecRequest, ExecSession } from "@warren/protocol";
import { runExec, specMaker } from "@warren/testing/conformance";
import { LayoutBuilder, named } from "@warren/testing/oci-layout";
import type { Engine } from "../src/engine/engine.ts";
import { createRunner } from "../src/engine/runner.ts";
import { hostNames } from "../src/host/names.ts";
import { run } from "../src/host/run.ts";
import { readOomRecord } from "../src/logs/oom-watch.ts";
import { removeHostNetwork } from "../src/network/index.ts";
import { busyboxAvailable, makeBusyboxRootfs } from "./fixtures/busybox-rootfs.ts";
import { removeCgroupTree } from "./runner-conformance-engine.ts";

const CI = process.env["CI"] === "true";
const IS_ROOT = process.getuid?.() === 0;
const TAG = randomBytes(3).toString("hex");
const PREFIX = `wo${TAG}`;
const DIR = `/tmp/warren-memory-oom-${TAG}`;
const IMAGE = `memory-oom/busybox:${TAG}`;
const MiB = 1024 * 1024;
const LIMIT = 256 * MiB;
/** The helper holds this much: more than the runaway reaches before the limit (256 - 150 - init). */
const HELPER_MIB = 150;
process.env["WARREN_SUBNET"] = `10.205.${randomInt(1, 250)}.0/24`;

const ready = IS_ROOT && busyboxAvailable() && existsSync("/usr/bin/cc");
const skip = !ready && !CI ? "needs root, busybox-static and cc" : false;

// Touches every page it allocates, so it is all resident. `hold MIB`: allocate MIB, say "ready",
// wait. `grow STEP_MIB DELAY_MS`: allocate STEP_MIB every DELAY_MS until killed, or exit 4 past
// 1 GiB: a broken limit must fail the test, not fill the host.
const HOG_C = `
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
static char *volatile last; /* keeps the compiler from dropping the unused allocations */
static void take(size_t mib) { char *p = malloc(mib << 20); if (!p) exit(3); memset(p, 1, mib << 20); last = p; }
int main(int argc, char **argv) {
  if (argc == 3 && !strcmp(argv[1], "hold")) { take(strtoul(argv[2], 0, 10)); puts("ready"); fflush(stdout); for (;;) pause(); }
  if (argc == 4 && !strcmp(argv[1], "grow")) {
    size_t step = strtoul(argv[2], 0, 10), total = 0;
    for (;;) { take(step); total += step; if (total > 1024) return 4; usleep(strtoul(argv[3], 0, 10) * 1000); }
  }
  return 2;
}
`;

describe("memory that fails gracefully: a runaway dies, Warren's processes live", {
  skip,
  timeout: 60_000,
}, () => {
  let engine: Engine;
  let slot = 0;
  const sessions: ExecSession[] = [];
  const specs = specMaker({ tag: TAG, image: IMAGE, runtime: "crun", nextSlot: () => slot++ });

  before(async () => {
    await mkdir(DIR, { recursive: true });
    engine = await createRunner({
      root: path.join(DIR, "root"),
      runDir: path.join(DIR, "run"),
      prefix: PREFIX,
      imagesDir: path.join(DIR, "images"),
      idRange: { start: 3_400_000_000 + randomInt(0, 200) * 65536 * 8, size: 65536 * 8 },
      procViews: false,
    });
    assert.ok(engine.ctx.runtimes.has("crun"), "crun is not available on this host");
    const rootfs = path.join(DIR, "image-rootfs");
    await makeBusyboxRootfs(rootfs);
    // Two names for one program: the kernel names a process after the file it executed, so the
    // log can tell the victim from the helper.
    await writeFile(path.join(DIR, "hog.c"), HOG_C);
    execFileSync("cc", ["-O0", "-static", "-o", path.join(rootfs, "bin/bighelper"), path.join(DIR, "hog.c")]);
    await copyFile(path.join(rootfs, "bin/bighelper"), path.join(rootfs, "bin/runaway"));
    const tar = path.join(DIR, "layer.tar");
    await run("tar", ["-cf", tar, "--numeric-owner", "-C", rootfs, "."]);
    const builder = new LayoutBuilder(path.join(DIR, "layout"));
    const img = await builder.image([await readFile(tar)], { compression: "none", cmd: ["/bin/sh"] });
    await engine.importImage(await builder.write([named(img.manifest, IMAGE)]), IMAGE, () => {});
  });

  after(async () => {
    for (const s of sessions) s.signal("SIGKILL");
    if (engine) {
      await specs.removeAll(engine);
      await engine.sweep(new Set()).catch(() => undefined);
      await engine.close();
      await removeHostNetwork(engine.ctx.cfg).catch(() => undefined);
    }
    for (const ctrl of readdirSync("/sys/fs/cgroup"))
      await removeCgroupTree(path.join("/sys/fs/cgroup", ctrl, PREFIX));
    await rm(DIR, { recursive: true, force: true });
  });

  /** A long-lived exec; resolves once it printed `until` (its exit code lands in `exit`). */
  async function startLong(id: string, req: ExecRequest, until: RegExp) {
    let out = "";
    let code: number | undefined;
    const s = await engine.exec(id, req, {
      stdout: (d) => {
        out += Buffer.from(d).toString();
      },
      stderr: (d) => {
        out += Buffer.from(d).toString();
      },
      exit: (c) => {
        code = c;
      },
    });
    sessions.push(s);
    const deadline = Date.now() + 15_000;
    while (!until.test(out)) {
      assert.ok(code === undefined, `${req.cmd.join(" ")} exited ${code} before ${until}: ${out}`);
      assert.ok(Date.now() < deadline, `${req.cmd.join(" ")} never printed ${until}: ${out}`);
      await sleep(25);
    }
    return { exited: () => code, output: () => out };
  }

  /** Runs the runaway to its death; returns its exit status. */
  async function runaway(id: string, helper: boolean): Promise<number> {
    const r = await runExec(engine, id, ["runaway", "grow", "8", "40"], { req: { helper } });
    return r.code;
  }

  async function newEnv(name: string, runtime: "crun" | "runc" = "crun") {
    const spec = { ...specs.envSpec(name), runtime };
    spec.resources = { ...spec.resources, memoryBytes: LIMIT, cpus: 1 };
    const obs = await engine.ensureRunning(spec);
    assert.equal(obs.state, "running");
    return { id: spec.id, pid: obs.pid!, logFile: hostNames(engine.ctx.cfg, spec.id).logFile };
  }

  it("gives init 0, the user's processes +500 and Warren's helpers 0 (crun and runc)", async () => {
    for (const runtime of ["crun", "runc"] as const) {
      if (!engine.ctx.runtimes.has(runtime)) continue;
      const env = await newEnv(`scores-${runtime}`, runtime);
      const read = async (helper: boolean, what = "self") =>
        (
          await runExec(engine, env.id, ["cat", `/proc/${what}/oom_score_adj`], { req: { helper } })
        ).stdout.trim();
      assert.equal(await read(false), "500", `${runtime}: a user's exec`);
      assert.equal(await read(true), "0", `${runtime}: a helper exec`);
      assert.equal(await read(false, "1"), "0", `${runtime}: init`);
      await engine.remove(env.id);
    }
  });

  it("control: with the runaway at the helper's score, the larger helper is the one killed", async () => {
    const env = await newEnv("control");
    const big = await startLong(
      env.id,
      { cmd: ["bighelper", "hold", String(HELPER_MIB)], tty: false, helper: true },
      /ready/,
    );
    await runaway(env.id, true);
    const deadline = Date.now() + 10_000;
    while (big.exited() === undefined && Date.now() < deadline) await sleep(50);
    assert.equal(big.exited(), 137, "without the scores the helper (larger than the runaway) must die");
    await engine.remove(env.id);
  });

  it("a runaway user process dies; init, the helper and an automation service survive; the log names it", async () => {
    const env = await newEnv("runaway");
    // An automation service, started as the control plane starts it: the supervisor is a helper.
    const conf = "version 1\nservice web\ncommand sleep 1000\nrestart never\n";
    const up = await runExec(engine, env.id, ["/.warren/supervise", "up"], {
      stdin: [conf],
      req: { helper: true, user: "0", cwd: "/" },
    });
    assert.equal(up.code, 0, up.stderr);
    const status = async () =>
      (await runExec(engine, env.id, ["/.warren/supervise", "ctl", "status"], { req: { helper: true } }))
        .stdout;
    for (let i = 0; i < 100 && !/"state":"ready"/.test(await status()); i++) await sleep(50);
    assert.match(await status(), /"name":"web","kind":"service","state":"ready"/);
    const big = await startLong(
      env.id,
      { cmd: ["bighelper", "hold", String(HELPER_MIB)], tty: false, helper: true },
      /ready/,
    );

    assert.equal(await runaway(env.id, false), 137, "the runaway is SIGKILLed");

    assert.equal(big.exited(), undefined, "the helper session is still running");
    const obs = await engine.observe(env.id);
    assert.equal(obs.state, "running");
    assert.equal(obs.pid, env.pid, "init is the same process");
    assert.match(
      await status(),
      /"name":"web","kind":"service","state":"ready"/,
      "the automation service still runs",
    );
    // The helper answers: its process is alive and still holds its memory.
    const ps = await runExec(engine, env.id, ["sh", "-c", "cat /proc/$(pidof bighelper)/status"], {
      req: { helper: true },
    });
    assert.match(ps.stdout, /^State:\s+S/m);

    // The OOM watch (one check a second) logs it with the victim's name, and counts it.
    let log = "";
    for (let i = 0; i < 60 && !/was killed: out of memory/.test(log); i++) {
      await sleep(100);
      log = await readFile(env.logFile, "utf8").catch(() => "");
    }
    assert.match(log, /process runaway was killed: out of memory \(limit 256Mi\)/);
    assert.doesNotMatch(log, /bighelper was killed/);
    assert.equal((await readOomRecord(env.logFile))?.kills, 1);
    const after = await engine.observe(env.id);
    assert.equal(after.oom?.kills, 1);
    assert.match(after.oom?.last?.message ?? "", /^process runaway was killed/);
  });
});
