// Disk I/O limits on an environment's own block device (the loop device under its disk image).
// At create they go into the OCI spec (linux.resources.blockIO), which runc and crun write as
// v1 blkio.throttle.* or v2 io.max; a live change writes those files directly.
//
// What v1 can throttle: reads, and writes that reach the device from the environment's own
// processes (O_DIRECT, fsync'd journal commits). Buffered writes are flushed later by kernel
// threads in the root blkio group, which v1 cannot attribute; v2 with cgroup writeback can.
import { readFileSync } from "node:fs";
import path from "node:path";
import type { IoLimits } from "@warren/protocol";

export interface BlockDevice {
  major: number;
  minor: number;
}

/** The major:minor of a block device such as /dev/loop3, from sysfs (no exec, no stat of /dev). */
export function blockDeviceOf(device: string, sysBlock = "/sys/block"): BlockDevice {
  const name = path.basename(device);
  if (!/^[a-z0-9]+$/.test(name)) throw new Error(`not a block device name: ${JSON.stringify(device)}`);
  const text = readFileSync(path.join(sysBlock, name, "dev"), "utf8").trim();
  const m = /^(\d+):(\d+)$/.exec(text);
  if (!m) throw new Error(`unexpected ${sysBlock}/${name}/dev: ${JSON.stringify(text)}`);
  return { major: Number(m[1]), minor: Number(m[2]) };
}

/** OCI linux.resources.blockIO for these limits on `dev`; undefined when nothing is limited. */
export function ociBlockIo(dev: BlockDevice, io: IoLimits | undefined): Record<string, unknown> | undefined {
  if (!io) return undefined;
  const out: Record<string, unknown> = {};
  const rule = (rate: number) => [{ major: dev.major, minor: dev.minor, rate }];
  if (io.readBps !== undefined) out["throttleReadBpsDevice"] = rule(io.readBps);
  if (io.writeBps !== undefined) out["throttleWriteBpsDevice"] = rule(io.writeBps);
  if (io.readIops !== undefined) out["throttleReadIOPSDevice"] = rule(io.readIops);
  if (io.writeIops !== undefined) out["throttleWriteIOPSDevice"] = rule(io.writeIops);
  return Object.keys(out).length > 0 ? out : undefined;
}

/**
 * The v1 writes that make `dev`'s limits exactly these: one line per blkio.throttle file, where
 * a rate of 0 removes an earlier rule (a limit taken away is unlimited again).
 */
export function v1ThrottleWrites(dev: BlockDevice, io: IoLimits | undefined): [file: string, line: string][] {
  const id = `${dev.major}:${dev.minor}`;
  return [
    ["blkio.throttle.read_bps_device", `${id} ${io?.readBps ?? 0}`],
    ["blkio.throttle.write_bps_device", `${id} ${io?.writeBps ?? 0}`],
    ["blkio.throttle.read_iops_device", `${id} ${io?.readIops ?? 0}`],
    ["blkio.throttle.write_iops_device", `${id} ${io?.writeIops ?? 0}`],
  ];
}

/** The v2 io.max line for `dev`: every key given, "max" where unlimited. */
export function v2IoMaxLine(dev: BlockDevice, io: IoLimits | undefined): string {
  const v = (n: number | undefined) => (n === undefined ? "max" : String(n));
  return (
    `${dev.major}:${dev.minor} rbps=${v(io?.readBps)} wbps=${v(io?.writeBps)} ` +
    `riops=${v(io?.readIops)} wiops=${v(io?.writeIops)}`
  );
}

/** Per-device rules in a v1 blkio.throttle.* file ("7:3 1048576" lines), by major:minor. */
export function parseV1Throttle(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    const m = /^(\d+:\d+)\s+(\d+)$/.exec(line.trim());
    if (m) out.set(m[1]!, Number(m[2]));
  }
  return out;
}
