// An environment's disk I/O limits (from its class) on its own block device: the loop device
// under its disk image, attached before the bundle is written. The device number can change
// between starts (a stopped environment's loop is detached), so the rule is made at every start.
import type { IoLimits } from "@warren/protocol";
import { blockDeviceOf, ociBlockIo } from "../cgroups/io-limits.ts";
import { withBlockIo } from "../spec/cgroups.ts";
import type { SpecOption } from "../spec/types.ts";
import { findLoops } from "../storage/loop.ts";

/** The spec option that limits the disk's I/O; a no-op when the class sets no limit. */
export function withDiskIoLimits(diskImage: string, io: IoLimits | undefined): SpecOption {
  const loop = findLoops(diskImage)[0];
  if (!loop) {
    if (!io || Object.keys(io).length === 0) return withBlockIo(undefined);
    // prepareHost attaches the loop device first; without it the limits would silently not apply.
    throw new Error(`disk I/O limits: no loop device is attached to ${diskImage}`);
  }
  return withBlockIo(ociBlockIo(blockDeviceOf(loop), io));
}
