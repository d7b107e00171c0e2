// Stopping and removing. Stop keeps the disk and mounts (a later start is then only the
// container, tens of milliseconds); remove takes every host object down, in reverse order.
import { rm } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { failpoint } from "@warren/protocol";
import { hostNames } from "../host/names.ts";
import { appendEvent, logLimits } from "../logs/env-log.ts";
import type { Runtime } from "../runtime/types.ts";
import { readHandle } from "../state/handle.ts";
import { detachLoop, removeDisk, unmountDisk } from "../storage/disk.ts";
import { unmountRootfs } from "../storage/rootfs.ts";
import type { EngineContext } from "./context.ts";
import { removeNetwork } from "./network.ts";

async function waitStopped(rt: Runtime, id: string, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  for (;;) {
    const st = await rt.state(id);
    if (!st || st.status === "stopped") return true;
    if (Date.now() >= until) return false;
    await sleep(20);
  }
}

/** SIGTERM, wait up to graceMs, then SIGKILL everything in the container; then drop the runtime record. */
export async function stopContainer(
  ctx: EngineContext,
  rt: Runtime,
  id: string,
  graceMs: number,
): Promise<void> {
  const names = hostNames(ctx.cfg, id);
  const st = await rt.state(names.containerId);
  if (st && (st.status === "running" || st.status === "paused")) {
    await rt.kill(names.containerId, "SIGTERM").catch(() => undefined);
    if (!(await waitStopped(rt, names.containerId, graceMs))) {
      failpoint("stop-kill");
      await rt.kill(names.containerId, "SIGKILL", true).catch(() => undefined);
      await ctx.cgroups.killAll(names.cgroupPath).catch(() => undefined);
      await waitStopped(rt, names.containerId, 5000);
    }
  }
  if (st) await rt.delete(names.containerId, true);
  // Processes exec'd into the container may outlive init for a moment; the cgroup holds them.
  await ctx.cgroups.killAll(names.cgroupPath).catch(() => undefined);
  await ctx.cgroups.remove(names.cgroupPath);
  if (st) await appendEvent(names.logFile, "stopped", logLimits(ctx.cfg)).catch(() => undefined);
}

/** Takes down everything the environment has on this host. Safe on half-made environments. */
export async function removeEverything(ctx: EngineContext, id: string): Promise<void> {
  const names = hostNames(ctx.cfg, id);
  const handle = await readHandle(names.handleFile).catch(() => null);
  for (const rt of ctx.runtimes.values()) {
    await stopContainer(ctx, rt, id, 0);
  }
  // Only now: the veth pair goes with the namespace once no process holds it.
  await removeNetwork(ctx, id, handle?.spec.slot);
  failpoint("remove-unmount");
  await unmountRootfs(names);
  await unmountDisk(names);
  await detachLoop(names.diskImage);
  await removeDisk(names).catch(() => undefined);
  await rm(names.envDir, { recursive: true, force: true });
}
