// The container's first process (process.*): command, user, environment and rlimits.

import { DEFAULT_PATH_ENV } from "./build.ts";
import type { OciRlimit, SpecOption } from "./types.ts";

export interface ProcessOptions {
  args: string[];
  env?: string[];
  cwd?: string;
  uid?: number;
  gid?: number;
  additionalGids?: number[];
  terminal?: boolean;
}

export function withProcess(p: ProcessOptions): SpecOption {
  return (spec) => {
    const env = p.env ?? [];
    spec.process.args = [...p.args];
    // Programs found through PATH must keep working when the caller passes only extra vars.
    spec.process.env = env.some((e) => e.startsWith("PATH=")) ? [...env] : [DEFAULT_PATH_ENV, ...env];
    spec.process.cwd = p.cwd ?? "/";
    spec.process.terminal = p.terminal ?? false;
    spec.process.user = { uid: p.uid ?? 0, gid: p.gid ?? 0 };
    if (p.additionalGids?.length) spec.process.user.additionalGids = [...p.additionalGids];
  };
}

/**
 * noNewPrivileges stays false by default: sudo and other setuid programs must work for
 * non-root users inside. The boundary is the user namespace plus seccomp, not this bit.
 */
export function withNoNewPrivileges(value: boolean): SpecOption {
  return (spec) => {
    spec.process.noNewPrivileges = value;
  };
}

/**
 * Defaults within this host's hard limits (nofile 20000, nproc 96365): root here lacks
 * CAP_SYS_RESOURCE, and a runtime that asks for more fails at setrlimit.
 */
export const DEFAULT_RLIMITS: readonly OciRlimit[] = [
  { type: "RLIMIT_NOFILE", soft: 20000, hard: 20000 },
  { type: "RLIMIT_NPROC", soft: 32768, hard: 32768 },
];

/** Lowers each limit to the given host hard limits (by OCI type), keeping soft <= hard. */
export function clampRlimits(limits: readonly OciRlimit[], hostHard: Record<string, number>): OciRlimit[] {
  return limits.map((l) => {
    const max = hostHard[l.type];
    const hard = max === undefined ? l.hard : Math.min(l.hard, max);
    return { type: l.type, hard, soft: Math.min(l.soft, hard) };
  });
}

export function withRlimits(limits: readonly OciRlimit[] = DEFAULT_RLIMITS): SpecOption {
  return (spec) => {
    const byType = new Map((spec.process.rlimits ?? []).map((l) => [l.type, l]));
    for (const l of limits) byType.set(l.type, { ...l });
    spec.process.rlimits = [...byType.values()];
  };
}
