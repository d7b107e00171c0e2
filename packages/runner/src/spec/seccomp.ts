// Builds the seccomp filter from the data in seccomp-default.ts for a given capability set.
import { DEFAULT_CAPABILITIES } from "./capabilities.ts";
import {
  CLONE_NAMESPACE_FLAGS,
  ENOSYS,
  SECCOMP_ALLOWED_PERSONALITIES,
  SECCOMP_ALLOWED_SYSCALLS,
  SECCOMP_ALWAYS_DENIED,
  SECCOMP_CAP_GATED,
  SECCOMP_DENIED_SOCKET_FAMILIES,
} from "./seccomp-default.ts";
import type { OciSeccomp, OciSeccompRule, SpecOption } from "./types.ts";

const EPERM = 1;

export function defaultSeccompProfile(caps: readonly string[] = DEFAULT_CAPABILITIES): OciSeccomp {
  const has = new Set(caps);
  const gated = SECCOMP_CAP_GATED.filter((g) => has.has(g.cap)).flatMap((g) => g.names);
  const always = new Set(SECCOMP_ALWAYS_DENIED);
  const allowed = [...new Set([...SECCOMP_ALLOWED_SYSCALLS, ...gated])].filter((n) => !always.has(n));
  const syscalls: OciSeccompRule[] = [{ names: allowed, action: "SCMP_ACT_ALLOW" }];

  // Each rule's args are ANDed; separate rules are ORed, so one rule per allowed value.
  const denied = SECCOMP_DENIED_SOCKET_FAMILIES;
  syscalls.push({
    names: ["socket"],
    action: "SCMP_ACT_ALLOW",
    args: denied.map((value) => ({ index: 0, value, op: "SCMP_CMP_NE" })),
  });
  for (const value of SECCOMP_ALLOWED_PERSONALITIES) {
    syscalls.push({
      names: ["personality"],
      action: "SCMP_ACT_ALLOW",
      args: [{ index: 0, value, op: "SCMP_CMP_EQ" }],
    });
  }
  if (!has.has("CAP_SYS_ADMIN")) {
    // Threads and fork, but no new namespaces: unshare-by-clone is as dangerous as unshare.
    syscalls.push({
      names: ["clone"],
      action: "SCMP_ACT_ALLOW",
      args: [{ index: 0, value: CLONE_NAMESPACE_FLAGS, valueTwo: 0, op: "SCMP_CMP_MASKED_EQ" }],
    });
    syscalls.push({ names: ["clone3"], action: "SCMP_ACT_ERRNO", errnoRet: ENOSYS });
  }
  return {
    defaultAction: "SCMP_ACT_ERRNO",
    defaultErrnoRet: EPERM,
    architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
    syscalls,
  };
}

/** Syscall names the profile allows unconditionally or with some argument rule. */
export function allowedSyscallNames(profile: OciSeccomp): Set<string> {
  return new Set(profile.syscalls.filter((r) => r.action === "SCMP_ACT_ALLOW").flatMap((r) => r.names));
}

/** Without an explicit profile, derives the default one from the spec's capabilities. */
export function withSeccomp(profile?: OciSeccomp): SpecOption {
  return (spec) => {
    spec.linux.seccomp =
      profile ?? defaultSeccompProfile(spec.process.capabilities?.bounding ?? DEFAULT_CAPABILITIES);
  };
}
