// When a process started, from the kernel (/proc/PID/stat's starttime after /proc/stat's btime),
// so an environment's start has an identity that is the same on every observe and new on every
// start: the setup controller runs postStart once per start by it.
import { readFile } from "node:fs/promises";

// USER_HZ: the unit of /proc/PID/stat's times; 100 on every Linux architecture Warren runs on.
const TICKS_PER_SECOND = 100;
let bootSeconds: number | undefined;

async function bootTime(): Promise<number> {
  if (bootSeconds === undefined) {
    const m = /^btime (\d+)$/m.exec(await readFile("/proc/stat", "utf8"));
    bootSeconds = m ? Number(m[1]) : 0;
  }
  return bootSeconds;
}

export async function processStartTime(pid: number): Promise<string | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may hold spaces and parentheses: count fields after its last ')'.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(fields[19]);
    if (!Number.isFinite(ticks)) return undefined;
    return new Date(((await bootTime()) + ticks / TICKS_PER_SECOND) * 1000).toISOString();
  } catch {
    return undefined;
  }
}
