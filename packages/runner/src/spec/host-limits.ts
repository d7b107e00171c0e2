// Reads this process's hard rlimits from /proc/self/limits, so specs never ask the runtime
// for more than the host allows (without CAP_SYS_RESOURCE, setrlimit above the hard limit fails).
import { readFileSync } from "node:fs";

const PROC_NAMES: Record<string, string> = {
  "Max open files": "RLIMIT_NOFILE",
  "Max processes": "RLIMIT_NPROC",
  "Max core file size": "RLIMIT_CORE",
  "Max locked memory": "RLIMIT_MEMLOCK",
  "Max stack size": "RLIMIT_STACK",
};

/** Hard limits by OCI rlimit type; "unlimited" entries are omitted. */
export function parseProcLimits(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split("\n")) {
    for (const [label, type] of Object.entries(PROC_NAMES)) {
      if (!line.startsWith(label)) continue;
      const [, hard] = line.slice(label.length).trim().split(/\s+/);
      if (hard !== undefined && /^\d+$/.test(hard)) out[type] = Number(hard);
    }
  }
  return out;
}

export function hostHardLimits(): Record<string, number> {
  return parseProcLimits(readFileSync("/proc/self/limits", "utf8"));
}
