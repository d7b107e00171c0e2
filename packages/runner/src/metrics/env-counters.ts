// Raw counters for Prometheus beside `warren stats`' rates: the memory high-water mark and the
// environment's network bytes. Read from files the runner owns (its cgroups, its own netns's
// /proc/net/dev), never from inside the environment. A missing file gives undefined, not an error:
// a counter Prometheus lacks for one scrape is better than a failed stats call.
import { readFile } from "node:fs/promises";
import path from "node:path";
import type { CgroupDriver } from "../cgroups/types.ts";
import { hostIfName } from "../network/addr.ts";

export interface EnvCounters {
  memoryMaxBytes?: number;
  networkReceiveBytes?: number;
  networkTransmitBytes?: number;
}

/** v1: memory.max_usage_in_bytes; v2: memory.peak (kernel 5.19+). */
export async function memoryPeak(cgroups: CgroupDriver, cgroupPath: string): Promise<number | undefined> {
  const dirs = cgroups.paths(cgroupPath);
  const file =
    cgroups.mode === "v1"
      ? dirs["memory"] && path.join(dirs["memory"], "memory.max_usage_in_bytes")
      : dirs["unified"] && path.join(dirs["unified"], "memory.peak");
  if (!file) return undefined;
  const n = Number((await readFile(file, "utf8").catch(() => "")).trim());
  return Number.isSafeInteger(n) && n > 0 ? n : undefined;
}

/**
 * Bytes through the environment's veth, from the environment's side: what the host side
 * transmits the environment receives. /proc/self/net/dev shows the reading process's own netns,
 * where the runner keeps the host ends (unlike /sys/class/net, which shows sysfs's mounter's).
 */
export function vethBytes(
  procNetDev: string,
  id: string,
): Pick<EnvCounters, "networkReceiveBytes" | "networkTransmitBytes"> {
  const name = hostIfName(id);
  for (const line of procNetDev.split("\n")) {
    const colon = line.indexOf(":");
    if (colon < 0 || line.slice(0, colon).trim() !== name) continue;
    const f = line
      .slice(colon + 1)
      .trim()
      .split(/\s+/)
      .map(Number);
    // Receive: bytes packets errs drop fifo frame compressed multicast; then transmit: bytes ...
    const hostRx = f[0];
    const hostTx = f[8];
    if (hostRx === undefined || hostTx === undefined || !Number.isFinite(hostRx) || !Number.isFinite(hostTx))
      return {};
    return { networkReceiveBytes: hostTx, networkTransmitBytes: hostRx };
  }
  return {};
}

export async function envCounters(
  cgroups: CgroupDriver,
  cgroupPath: string,
  id: string,
): Promise<EnvCounters> {
  const [peak, dev] = await Promise.all([
    memoryPeak(cgroups, cgroupPath),
    readFile("/proc/self/net/dev", "utf8").catch(() => ""),
  ]);
  const out: EnvCounters = vethBytes(dev, id);
  if (peak !== undefined) out.memoryMaxBytes = peak;
  return out;
}
