// Memory attributed to one environment or container, read from the kernel per process rather
// than from host-wide MemAvailable (which on a shared host moves by more than an idle
// environment costs): the proportional set size (PSS, /proc/PID/smaps_rollup) of each of its
// processes, so a page shared by 100 environments counts 1/100 to each, plus the kernel memory
// charged to its memory cgroup (slab, stacks, page tables), which no process's PSS includes.
import { existsSync, readdirSync, readFileSync } from "node:fs";

const V1_MEMORY = "/sys/fs/cgroup/memory";

export function pssBytes(pid: number): number {
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0; // exited meanwhile
  }
}

export interface ProcInfo {
  pid: number;
  ppid: number;
  /** Memory cgroup path (v1 memory hierarchy, or the v2 unified path). */
  cgroup: string;
}

/** Every process on the host with its parent and memory cgroup. */
export function allProcesses(): ProcInfo[] {
  const out: ProcInfo[] = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      const cg = readFileSync(`/proc/${d}/cgroup`, "utf8");
      const v1 = /^\d+:memory:(.*)$/m.exec(cg);
      const v2 = /^0::(.*)$/m.exec(cg);
      out.push({ pid: Number(d), ppid, cgroup: v1?.[1] ?? v2?.[1] ?? "/" });
    } catch {}
  }
  return out;
}

/** `root` and every process below it. */
export function descendants(procs: ProcInfo[], root: number): number[] {
  const kids = new Map<number, number[]>();
  for (const p of procs) kids.set(p.ppid, [...(kids.get(p.ppid) ?? []), p.pid]);
  const out: number[] = [];
  const todo = [root];
  for (let p = todo.pop(); p !== undefined; p = todo.pop()) {
    out.push(p);
    todo.push(...(kids.get(p) ?? []));
  }
  return out;
}

/** Kernel memory charged to a memory cgroup (hierarchical: includes its children). */
export function kmemBytes(cgroup: string): number {
  const v1 = `${V1_MEMORY}${cgroup}/memory.kmem.usage_in_bytes`;
  if (existsSync(v1)) return Number(readFileSync(v1, "utf8").trim());
  try {
    const m = /^kernel (\d+)$/m.exec(readFileSync(`/sys/fs/cgroup${cgroup}/memory.stat`, "utf8"));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

export interface GroupCost {
  pss: number;
  kmem: number;
  procs: number;
}

/**
 * The cost of one memory cgroup (and any group nested in it): the PSS of every process in it,
 * plus `extraPids` that belong to it from outside (podman's conmon), plus its kernel memory.
 */
export function groupCost(procs: ProcInfo[], cgroup: string, extraPids: number[] = []): GroupCost {
  const inside = procs.filter((p) => p.cgroup === cgroup || p.cgroup.startsWith(`${cgroup}/`));
  const pids = [...inside.map((p) => p.pid), ...extraPids];
  return { pss: pids.reduce((a, p) => a + pssBytes(p), 0), kmem: kmemBytes(cgroup), procs: pids.length };
}
