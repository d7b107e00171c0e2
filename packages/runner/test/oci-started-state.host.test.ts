// A start without a second runtime process: after create (with a pid file) and start, the next
// state() answer comes from the live init, not from `runc state` (about 18 ms here); once that
// init is gone, state() asks the runtime again and says stopped. The runtime binary is a
// wrapper that records each invocation, so the test sees exactly which commands ran.
import assert from "node:assert/strict";
import { randomBytes, randomInt } from "node:crypto";
import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import { mkdir, readdir, readFile, rm, rmdir } from "node:fs/promises";
import path from "node:path";
import { after, before, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { defaultConfig } from "../src/host/config.ts";
import { runcRuntime } from "../src/runtime/index.ts";
import { buildSpec, defaultEnvSpecOptions } from "../src/spec/index.ts";
import { writeBundleSpec } from "../src/spec/write.ts";
import { busyboxAvailable, makeBusyboxRootfs } from "./fixtures/busybox-rootfs.ts";

const prefix = `wt${randomBytes(3).toString("hex")}`;
const dir = `/tmp/${prefix}-started-state`;
const id = `${prefix}-c`;
const cgroupsPath = `/${prefix}/${id}`;
const calls = path.join(dir, "calls.log");
const wrapper = path.join(dir, "runc-wrapper");
const cfg = defaultConfig({ root: path.join(dir, "root"), runDir: path.join(dir, "run"), prefix });
const rt = runcRuntime(cfg, wrapper);
const skip = process.getuid?.() !== 0 || !busyboxAvailable() ? "needs root and busybox-static" : false;

/** The runtime commands run so far (the first argument after the global options). */
function commands(): string[] {
  const text = readFileSync(calls, "utf8");
  return text
    .split("\n")
    .filter(Boolean)
    .map((l) => l.split(" ").find((w, i, all) => i > 0 && all[i - 1] !== "--root" && w !== "--root") ?? "");
}

before(async () => {
  if (skip) return;
  await mkdir(dir, { recursive: true });
  writeFileSync(calls, "");
  writeFileSync(wrapper, `#!/bin/sh\necho "$*" >> ${calls}\nexec runc "$@"\n`);
  chmodSync(wrapper, 0o755);
  await makeBusyboxRootfs(path.join(dir, "rootfs"));
  const spec = buildSpec(
    ...defaultEnvSpecOptions({
      rootfs: path.join(dir, "rootfs"),
      readonlyRootfs: true,
      tmpfsTmp: true,
      hostname: id,
      idMap: { hostStart: 3_000_000_000 + randomInt(0, 1000) * 65536, size: 65536 },
      cgroupsPath,
      initBinary: path.join(cfg.nativeDir, "warren-init"),
      resources: { pids: { limit: 64 } },
    }),
  );
  await writeBundleSpec(path.join(dir, "bundle"), spec);
});

after(async () => {
  if (skip) return;
  await rt.delete(id, true).catch(() => undefined);
  for (const line of readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
    const f = line.split(" ");
    const type = f[f.indexOf("-") + 1];
    if (type !== "cgroup" && type !== "cgroup2") continue;
    for (const d of [path.join(f[4]!, prefix, id), path.join(f[4]!, prefix)]) {
      const kids = await readdir(d).catch(() => null);
      if (kids === null) continue;
      for (let i = 0; i < 50; i++) {
        if (
          await rmdir(d).then(
            () => true,
            (e: NodeJS.ErrnoException) => e.code === "ENOENT",
          )
        )
          break;
        await sleep(20);
      }
    }
  }
  await rm(dir, { recursive: true, force: true });
});

test("after create and start, state() needs no runtime process until init is gone", { skip }, async () => {
  const pidFile = path.join(dir, "init.pid");
  await rt.create(id, path.join(dir, "bundle"), { logFile: path.join(dir, "console.log"), pidFile });
  await rt.start(id);
  const before = commands();
  assert.deepEqual(before.slice(-2), ["create", "start"]);
  const st = await rt.state(id);
  assert.equal(st?.status, "running");
  assert.equal(st.pid, Number(await readFile(pidFile, "utf8")));
  assert.deepEqual(commands(), before, "state() of a just-started container ran the runtime");

  // The answer is only trusted while that init lives.
  process.kill(st.pid, "SIGKILL");
  for (let i = 0; i < 100 && (await rt.state(id))?.status === "running"; i++) await sleep(20);
  assert.equal((await rt.state(id))?.status, "stopped");
  assert.ok(commands().includes("state"), "a gone init must make state() ask the runtime");
});
