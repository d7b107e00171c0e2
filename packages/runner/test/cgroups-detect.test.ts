import assert from "node:assert/strict";
import { test } from "node:test";
import { cgroupDriver, detectCgroupMode, parseCgroupMounts } from "../src/cgroups/detect.ts";
import { parsePsi } from "../src/cgroups/psi.ts";
import { CgroupV1Driver } from "../src/cgroups/v1.ts";
import { CgroupV2Driver } from "../src/cgroups/v2.ts";

// Taken from this host (Debian 12 VM, kernel 6.18).
const HYBRID = `31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw`;

// Typical systemd v1 layout: cpu and cpuacct co-mounted, with optional fields before " - ".
const LEGACY = `25 24 0:22 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755
28 25 0:25 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:9 - cgroup cgroup rw,cpu,cpuacct
29 25 0:26 / /sys/fs/cgroup/memory rw,nosuid shared:10 - cgroup cgroup rw,memory
30 25 0:27 / /sys/fs/cgroup/pids rw,nosuid shared:11 - cgroup cgroup rw,pids`;

const PURE_V2 = `25 24 0:22 / /sys/fs/cgroup rw,nosuid shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
99 1 0:50 / /var/lib/other/cgroup rw - cgroup cgroup rw,memory`;

test("parseCgroupMounts maps controllers to mount dirs", () => {
  assert.deepEqual(parseCgroupMounts(HYBRID), {
    v1: {
      cpu: "/sys/fs/cgroup/cpu",
      cpuacct: "/sys/fs/cgroup/cpuacct",
      memory: "/sys/fs/cgroup/memory",
      pids: "/sys/fs/cgroup/pids",
      systemd: "/sys/fs/cgroup/systemd",
    },
    v2: "/sys/fs/cgroup/unified",
  });
  const legacy = parseCgroupMounts(LEGACY);
  assert.equal(legacy.v1["cpu"], "/sys/fs/cgroup/cpu,cpuacct");
  assert.equal(legacy.v1["cpuacct"], "/sys/fs/cgroup/cpu,cpuacct");
  assert.equal(legacy.v2, null);
});

test("detectCgroupMode: hybrid, v1, v2, and none", () => {
  assert.equal(detectCgroupMode({ mountinfo: HYBRID }), "hybrid");
  assert.equal(detectCgroupMode({ mountinfo: LEGACY }), "v1");
  // The memory mount outside /sys/fs/cgroup belongs to someone else and is ignored.
  assert.equal(detectCgroupMode({ mountinfo: PURE_V2 }), "v2");
  assert.throws(() => detectCgroupMode({ mountinfo: "" }), /no cgroup filesystem is mounted/);
});

test("cgroupDriver picks the driver for the mode", () => {
  const hybrid = cgroupDriver({ mountinfo: HYBRID });
  assert.ok(hybrid instanceof CgroupV1Driver);
  assert.equal(hybrid.unifiedRoot, "/sys/fs/cgroup/unified");
  assert.equal(hybrid.paths("/warren/warren-x")["unified"], "/sys/fs/cgroup/unified/warren/warren-x");
  const legacy = cgroupDriver({ mountinfo: LEGACY });
  assert.ok(legacy instanceof CgroupV1Driver);
  assert.equal(legacy.unifiedRoot, null);
  assert.equal(legacy.paths("/w/e")["cpuacct"], "/sys/fs/cgroup/cpu,cpuacct/w/e");
  const v2 = cgroupDriver({ mountinfo: PURE_V2 });
  assert.ok(v2 instanceof CgroupV2Driver);
  assert.equal(v2.root, "/sys/fs/cgroup");
  assert.throws(
    () => cgroupDriver({ mountinfo: LEGACY.split("\n").slice(0, 2).join("\n") }),
    /needs the cpu, cpuacct and memory/,
  );
});

test("parsePsi reads some and full lines", () => {
  const p = parsePsi(
    "some avg10=3.25 avg60=1.00 avg300=0.50 total=987654\nfull avg10=0.75 avg60=0.10 avg300=0.01 total=42\n",
  );
  assert.deepEqual(p.some, { avg10: 3.25, avg60: 1, avg300: 0.5, total: 987654 });
  assert.deepEqual(p.full, { avg10: 0.75, avg60: 0.1, avg300: 0.01, total: 42 });
  assert.deepEqual(parsePsi("some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n").full, null);
  assert.throws(() => parsePsi("some avg10=x avg60=0 avg300=0 total=0"), /malformed pressure line/);
});
