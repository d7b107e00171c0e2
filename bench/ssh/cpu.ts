// CPU time spent by the server side of a transfer, to show where the time goes: the daemon
// process (the gateway, and in embedded mode the runner's exec plumbing) and the environment's
// cgroup (sshd, or the sftp-server the gateway starts inside).
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";

const TICKS = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout.trim()) || 100;

/** User and system CPU of one process (all its threads), in ms. */
export function processCpuMs(pid: number): { user: number; sys: number } {
  // Fields after the ")" that ends the command name: state is [0], utime [11], stime [12].
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return { user: (Number(f[11]) * 1000) / TICKS, sys: (Number(f[12]) * 1000) / TICKS };
}

/** CPU of every process in a cgroup (v1 cpuacct or v2), in ms. */
export function cgroupCpuMs(paths: Record<string, string>): number {
  const v1 = paths["cpuacct"] && `${paths["cpuacct"]}/cpuacct.usage`;
  if (v1 && existsSync(v1)) return Number(readFileSync(v1, "utf8")) / 1e6;
  const v2 = paths["unified"] ?? paths[""];
  const m = v2 ? /usage_usec (\d+)/.exec(readFileSync(`${v2}/cpu.stat`, "utf8")) : null;
  if (!m) throw new Error(`no CPU accounting among the environment's cgroups: ${JSON.stringify(paths)}`);
  return Number(m[1]) / 1000;
}
