import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { buildSpec, withRootfs } from "../src/spec/build.ts";
import { withCgroupsPath, withResources } from "../src/spec/cgroups.ts";
import { defaultEnvSpecOptions, INIT_PATH_IN_CONTAINER } from "../src/spec/defaults.ts";
import { hostHardLimits, parseProcLimits } from "../src/spec/host-limits.ts";
import { DEFAULT_MASKED_PATHS, DEFAULT_READONLY_PATHS, withBindMount } from "../src/spec/mounts.ts";
import { withNamespaces, withUserNamespace } from "../src/spec/namespaces.ts";
import { clampRlimits, DEFAULT_RLIMITS, withProcess } from "../src/spec/process.ts";

const HOST_HARD = { RLIMIT_NOFILE: 20000, RLIMIT_NPROC: 96365 };
const idMap = { hostStart: 3_000_065_536, size: 65536 };

function envSpec(extra: Partial<Parameters<typeof defaultEnvSpecOptions>[0]> = {}) {
  return buildSpec(
    ...defaultEnvSpecOptions({
      rootfs: "/var/lib/warren/envs/x/rootfs",
      hostname: "dev",
      idMap,
      cgroupsPath: "/warren/warren-x",
      initBinary: "/opt/warren/warren-init",
      hostHardLimits: HOST_HARD,
      ...extra,
    }),
  );
}

describe("environment spec defaults", () => {
  it("masks and write-protects runc's default paths", () => {
    const spec = envSpec();
    assert.deepEqual(spec.linux.maskedPaths, [...DEFAULT_MASKED_PATHS]);
    for (const p of [
      "/proc/kcore",
      "/proc/keys",
      "/proc/sched_debug",
      "/sys/firmware",
      "/sys/devices/virtual/powercap",
    ]) {
      assert.ok(spec.linux.maskedPaths?.includes(p), p);
    }
    assert.deepEqual(spec.linux.readonlyPaths, [
      "/proc/bus",
      "/proc/fs",
      "/proc/irq",
      "/proc/sys",
      "/proc/sysrq-trigger",
    ]);
    assert.deepEqual(DEFAULT_READONLY_PATHS, spec.linux.readonlyPaths);
  });

  it("keeps rlimits within the host's hard limits", () => {
    for (const l of envSpec().process.rlimits ?? []) {
      assert.ok(l.soft <= l.hard, `${l.type} soft > hard`);
      const max = HOST_HARD[l.type as keyof typeof HOST_HARD];
      if (max !== undefined) assert.ok(l.hard <= max, `${l.type} ${l.hard} > ${max}`);
    }
    const live = hostHardLimits();
    for (const l of buildSpec(...defaultEnvSpecOptions({ ...baseInput(), hostHardLimits: live })).process
      .rlimits ?? []) {
      if (live[l.type] !== undefined)
        assert.ok(l.hard <= live[l.type]!, `${l.type} above this host's hard limit`);
    }
    assert.deepEqual(
      clampRlimits([{ type: "RLIMIT_NOFILE", soft: 50000, hard: 60000 }], { RLIMIT_NOFILE: 1024 }),
      [{ type: "RLIMIT_NOFILE", soft: 1024, hard: 1024 }],
    );
    assert.ok(DEFAULT_RLIMITS.some((l) => l.type === "RLIMIT_NOFILE"));
  });

  it("maps root to the environment's uid and gid range", () => {
    const spec = envSpec();
    assert.deepEqual(spec.linux.uidMappings, [{ containerID: 0, hostID: idMap.hostStart, size: 65536 }]);
    assert.deepEqual(spec.linux.gidMappings, spec.linux.uidMappings);
    assert.ok(spec.linux.namespaces.some((n) => n.type === "user"));
    // devpts uses gid 5 (tty), which must exist inside the map.
    const devpts = spec.mounts.find((m) => m.destination === "/dev/pts");
    assert.ok(devpts?.options?.includes("gid=5") && idMap.size > 5);
    assert.throws(() => withUserNamespace({ hostStart: 0, size: 65536 }), /invalid id map/);
    assert.throws(() => withUserNamespace({ hostStart: 4_294_967_000, size: 65536 }), /32-bit/);
  });

  it("gives every namespace, a fresh netns unless a path is given", () => {
    const types = envSpec()
      .linux.namespaces.map((n) => n.type)
      .sort();
    assert.deepEqual(types, ["cgroup", "ipc", "mount", "network", "pid", "user", "uts"]);
    assert.equal(envSpec().linux.namespaces.find((n) => n.type === "network")?.path, undefined);
    const joined = buildSpec(
      withProcess({ args: ["true"] }),
      withNamespaces({ networkPath: "/run/netns/w" }),
    );
    assert.equal(joined.linux.namespaces.find((n) => n.type === "network")?.path, "/run/netns/w");
  });

  it("runs warren-init as pid 1 with noNewPrivileges off, bound read-only", () => {
    const spec = envSpec({ command: ["sleep", "1"], workspaceDir: "/data/ws" });
    assert.deepEqual(spec.process.args, [INIT_PATH_IN_CONTAINER, "--", "sleep", "1"]);
    assert.equal(spec.process.noNewPrivileges, false);
    const init = spec.mounts.find((m) => m.destination === INIT_PATH_IN_CONTAINER);
    assert.equal(init?.source, "/opt/warren/warren-init");
    assert.ok(init?.options?.includes("ro"));
    const ws = spec.mounts.find((m) => m.destination === "/workspaces");
    assert.deepEqual(ws?.options, ["rbind", "rw"]);
    assert.deepEqual(envSpec().process.args, [INIT_PATH_IN_CONTAINER]);
  });

  it("mounts sysfs and cgroups read-only", () => {
    const spec = envSpec();
    for (const dst of ["/sys", "/sys/fs/cgroup"]) {
      const m = spec.mounts.find((x) => x.destination === dst);
      assert.ok(m?.options?.includes("ro"), dst);
    }
  });

  it("later options win and bind mounts replace by destination", () => {
    const spec = buildSpec(
      withProcess({ args: ["a"] }),
      withRootfs("/r", false),
      withRootfs("/r2", true),
      withBindMount("/x", "/mnt"),
      withBindMount("/y", "/mnt", { readonly: true }),
      withResources({ pids: { limit: 10 } }),
      withCgroupsPath("/warren/warren-y"),
    );
    assert.deepEqual(spec.root, { path: "/r2", readonly: true });
    assert.deepEqual(
      spec.mounts.filter((m) => m.destination === "/mnt").map((m) => m.source),
      ["/y"],
    );
    assert.deepEqual(spec.linux.resources, { pids: { limit: 10 } });
    assert.throws(() => withCgroupsPath("warren/x"), /absolute/);
    assert.throws(() => buildSpec(withRootfs("/r", true)), /args is empty/);
  });

  it("parses /proc/self/limits", () => {
    const text = readFileSync("/proc/self/limits", "utf8");
    const limits = parseProcLimits(text);
    assert.ok(limits["RLIMIT_NOFILE"] !== undefined && limits["RLIMIT_NOFILE"] > 0);
    const sample = "Max open files            1024                 20000                files     \n";
    assert.deepEqual(parseProcLimits(sample), { RLIMIT_NOFILE: 20000 });
  });
});

function baseInput() {
  return { rootfs: "/r", hostname: "h", idMap, cgroupsPath: "/w/w-x", initBinary: "/i" };
}
