import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { buildSpec } from "../src/spec/build.ts";
import { DEFAULT_CAPABILITIES, withCapabilities } from "../src/spec/capabilities.ts";
import { withProcess } from "../src/spec/process.ts";
import { allowedSyscallNames, defaultSeccompProfile, withSeccomp } from "../src/spec/seccomp.ts";
import { CLONE_NAMESPACE_FLAGS } from "../src/spec/seccomp-default.ts";

const DANGEROUS = [
  "keyctl",
  "add_key",
  "request_key",
  "bpf",
  "kexec_load",
  "kexec_file_load",
  "open_by_handle_at",
  "perf_event_open",
  "mount",
  "umount",
  "umount2",
  "unshare",
  "setns",
  "pivot_root",
  "fsopen",
  "fsmount",
  "move_mount",
  "open_tree",
  "mount_setattr",
  "init_module",
  "finit_module",
  "delete_module",
  "reboot",
  "swapon",
  "settimeofday",
  "clock_settime",
  "syslog",
  "userfaultfd",
  "quotactl",
  "iopl",
  "ioperm",
  "kcmp",
  "acct",
  "lookup_dcookie",
  "sethostname",
];

describe("seccomp default profile", () => {
  const profile = defaultSeccompProfile(DEFAULT_CAPABILITIES);
  const allowed = allowedSyscallNames(profile);

  it("denies by default with EPERM on the x86 family", () => {
    assert.equal(profile.defaultAction, "SCMP_ACT_ERRNO");
    assert.equal(profile.defaultErrnoRet, 1);
    assert.deepEqual(profile.architectures, ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]);
  });

  it("does not allow the dangerous syscalls with the default capabilities", () => {
    for (const name of DANGEROUS) assert.ok(!allowed.has(name), `${name} must not be allowed`);
  });

  it("allows what ordinary programs need", () => {
    for (const name of [
      "read",
      "write",
      "openat",
      "execve",
      "fork",
      "futex",
      "io_uring_setup",
      "chroot",
      "ptrace",
      "socket",
    ]) {
      assert.ok(allowed.has(name), `${name} must be allowed`);
    }
  });

  it("allows clone only without namespace flags, and sends clone3 to ENOSYS", () => {
    const clone = profile.syscalls.filter((r) => r.names.includes("clone"));
    assert.equal(clone.length, 1);
    assert.deepEqual(clone[0]?.args, [
      { index: 0, value: CLONE_NAMESPACE_FLAGS, valueTwo: 0, op: "SCMP_CMP_MASKED_EQ" },
    ]);
    // CLONE_NEWUSER, CLONE_NEWNS and CLONE_NEWNET are all inside the mask.
    for (const flag of [0x10000000, 0x00020000, 0x40000000]) assert.ok((CLONE_NAMESPACE_FLAGS & flag) !== 0);
    const clone3 = profile.syscalls.find((r) => r.names.includes("clone3"));
    assert.equal(clone3?.action, "SCMP_ACT_ERRNO");
    assert.equal(clone3?.errnoRet, 38);
  });

  it("allows socket for every family but AF_VSOCK, and only the safe personalities", () => {
    const socket = profile.syscalls.filter((r) => r.names.includes("socket"));
    assert.deepEqual(
      socket.map((r) => r.args),
      [[{ index: 0, value: 40, op: "SCMP_CMP_NE" }]],
    );
    const personalities = profile.syscalls
      .filter((r) => r.names.includes("personality"))
      .map((r) => r.args?.[0]?.value);
    assert.deepEqual(personalities, [0, 8, 0x20000, 0x20008, 0xffffffff]);
  });

  it("resolves capability gates, but never allows the always-denied calls", () => {
    const admin = allowedSyscallNames(defaultSeccompProfile([...DEFAULT_CAPABILITIES, "CAP_SYS_ADMIN"]));
    assert.ok(admin.has("mount") && admin.has("unshare"));
    for (const name of ["keyctl", "add_key", "request_key", "kexec_load"]) assert.ok(!admin.has(name));
    const noChroot = allowedSyscallNames(defaultSeccompProfile(["CAP_CHOWN"]));
    assert.ok(!noChroot.has("chroot"));
  });

  it("withSeccomp derives the profile from the spec's capabilities", () => {
    const spec = buildSpec(withProcess({ args: ["true"] }), withCapabilities(["CAP_KILL"]), withSeccomp());
    assert.ok(spec.linux.seccomp);
    assert.ok(!allowedSyscallNames(spec.linux.seccomp).has("chroot"));
  });
});
