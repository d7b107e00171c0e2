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

/**
 * OOM order inside an environment: the user's processes start at +500 and Warren's own (init, the
 * SSH relay, the automation supervisor, file delivery) stay at 0, so a runaway user process is
 * the kernel's victim before any of them. Root inside lacks CAP_SYS_RESOURCE, so a score can only
 * be raised there: a helper must be started at 0, never lowered to it.
 */
export const USER_OOM_SCORE_ADJ = 500;
export const HELPER_OOM_SCORE_ADJ = 0;
/** Read (and removed) by warren-init: the score it gives what it runs for the user. */
export const INIT_OOM_SCORE_VAR = "WARREN_INIT_OOM_SCORE_ADJ";

/**
 * The environment's init runs at 0 whatever the runner's own score (a runner under systemd's
 * OOMScoreAdjust=-1000 must not hand that on), and its children at `childScore`.
 */
export function withOomScores(childScore: number = USER_OOM_SCORE_ADJ): SpecOption {
  return (spec) => {
    spec.process.oomScoreAdj = HELPER_OOM_SCORE_ADJ;
    const env = spec.process.env.filter((e) => !e.startsWith(`${INIT_OOM_SCORE_VAR}=`));
    spec.process.env = [...env, `${INIT_OOM_SCORE_VAR}=${childScore}`];
  };
}

/**
 * The score of a process exec'd into an environment. A user's gets +500 from warren-init, which
 * every exec passes through: runc 1.1 and crun 1.8 ignore OCI process.oomScoreAdj on exec
 * (measured), so the field is only for runtimes that apply it. A helper is set to 0 the same way:
 * otherwise it would keep the runtime's score, which under warren.service is the runner's -1000,
 * and a helper the kernel can never kill could hang the environment at its limit.
 */
export function execOomScore(helper: boolean): { oomScoreAdj: number; env: string[] } {
  const score = helper ? HELPER_OOM_SCORE_ADJ : USER_OOM_SCORE_ADJ;
  return { oomScoreAdj: score, env: [`${INIT_OOM_SCORE_VAR}=${score}`] };
}
