// The spec side of the environments' /proc views and the lxcfs supervisor's paths that need no
// root: which files are bound and how, that gVisor's spec drops them, that a missing lxcfs leaves
// environments startable with one warning, and that a reused pid is never taken for lxcfs.
import assert from "node:assert/strict";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { defaultConfig } from "../src/host/config.ts";
import { Lxcfs, lxcfsPaths, mountState, recordedLxcfsPid } from "../src/host/lxcfs.ts";
import { planGvisor } from "../src/runtime/gvisor-spec.ts";
import { buildSpec } from "../src/spec/build.ts";
import { defaultEnvSpecOptions } from "../src/spec/defaults.ts";
import { isProcViewMount, PROC_VIEW_FILES, withBindMount, withProcViews } from "../src/spec/mounts.ts";

const LXCFS_DIR = "/run/warren/lxcfs";

function envSpec(...extra: Parameters<typeof buildSpec>) {
  return buildSpec(
    ...defaultEnvSpecOptions({
      rootfs: "/var/lib/warren/envs/x/rootfs",
      hostname: "dev",
      idMap: { hostStart: 3_000_065_536, size: 65536 },
      cgroupsPath: "/warren/warren-x",
      initBinary: "/opt/warren/warren-init",
      hostHardLimits: { RLIMIT_NOFILE: 20000, RLIMIT_NPROC: 96365 },
    }),
    ...extra,
  );
}

const tmp: string[] = [];
after(async () => {
  for (const d of tmp) await rm(d, { recursive: true, force: true });
});

describe("environments' /proc views in the spec", () => {
  it("binds every view file from the lxcfs mount, read-only, after /proc and /sys", () => {
    const spec = envSpec(withProcViews(LXCFS_DIR));
    const views = spec.mounts.filter(isProcViewMount);
    assert.deepEqual(
      views.map((m) => [m.destination, m.source]),
      PROC_VIEW_FILES.map((f) => [f, `${LXCFS_DIR}${f}`]),
    );
    for (const m of views) {
      const options = m.options ?? [];
      assert.ok(options.includes("ro") && options.includes("bind"), `${m.destination} ${options}`);
      assert.ok(!options.includes("rbind"), "one file, not a tree");
    }
    // A bind under /proc is mounted after /proc itself, or the proc mount would hide it.
    const at = (d: string) => spec.mounts.findIndex((m) => m.destination === d);
    assert.ok(at("/proc") < at("/proc/meminfo") && at("/sys") < at("/sys/devices/system/cpu/online"));
    for (const f of ["/proc/meminfo", "/proc/cpuinfo", "/proc/stat", "/proc/uptime", "/proc/loadavg"]) {
      assert.ok(PROC_VIEW_FILES.includes(f), f);
    }
  });

  it("a spec without views has none, and a user's own bind is not taken for one", () => {
    const spec = envSpec(withBindMount("/srv/data/meminfo", "/data/meminfo", { readonly: true }));
    assert.equal(spec.mounts.filter(isProcViewMount).length, 0);
  });

  it("gVisor's spec drops the binds: the Sentry serves its own /proc", () => {
    const plan = planGvisor(envSpec(withProcViews(LXCFS_DIR)));
    assert.equal(plan.spec.mounts.filter(isProcViewMount).length, 0);
    assert.ok(plan.spec.mounts.some((m) => m.destination === "/proc" && m.type === "proc"));
  });

  it("WARREN_PROC_VIEWS=off turns the views off; they are on by default", () => {
    const saved = process.env["WARREN_PROC_VIEWS"];
    try {
      delete process.env["WARREN_PROC_VIEWS"];
      assert.equal(defaultConfig().procViews, true);
      process.env["WARREN_PROC_VIEWS"] = "off";
      assert.equal(defaultConfig().procViews, false);
    } finally {
      if (saved === undefined) delete process.env["WARREN_PROC_VIEWS"];
      else process.env["WARREN_PROC_VIEWS"] = saved;
    }
  });
});

describe("the runner's lxcfs", () => {
  it("lives under the runner's run dir, so runners on one host never share one", () => {
    const a = lxcfsPaths("/run/warren-a");
    const b = lxcfsPaths("/run/warren-b");
    assert.equal(a.mountDir, "/run/warren-a/lxcfs");
    assert.equal(a.pidFile, "/run/warren-a/lxcfs.pid");
    assert.notEqual(a.mountDir, b.mountDir);
    assert.notEqual(a.pidFile, b.pidFile);
  });

  it("missing: ensure() answers undefined (no views) and warns once, not once per start", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "warren-lxcfs-missing-"));
    tmp.push(dir);
    const logs: string[] = [];
    const lx = new Lxcfs(dir, { binary: path.join(dir, "no-lxcfs-here"), log: (m) => logs.push(m) });
    assert.equal(await lx.ensure(), undefined);
    assert.equal(await lx.ensure(), undefined);
    assert.equal(lx.pid(), undefined);
    assert.equal(logs.length, 1, logs.join(" | "));
    assert.match(logs[0]!, /host's \/proc views/);
    assert.equal(await mountState(lx.paths.mountDir), "absent");
    await lx.stop();
    assert.ok(!(await readdir(dir)).includes("lxcfs"), "stop() removes the mount point");
  });

  it("a pidfile naming some other process (a reused pid) is not taken for lxcfs", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "warren-lxcfs-pid-"));
    tmp.push(dir);
    await writeFile(lxcfsPaths(dir).pidFile, `${process.pid}\n`);
    assert.equal(recordedLxcfsPid(dir), undefined);
    await writeFile(lxcfsPaths(dir).pidFile, "not a pid\n");
    assert.equal(recordedLxcfsPid(dir), undefined);
  });

  it("mountState: a plain directory or a missing one is not a mount", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "warren-lxcfs-state-"));
    tmp.push(dir);
    assert.equal(await mountState(dir), "absent");
    assert.equal(await mountState(path.join(dir, "nothing")), "absent");
  });
});
