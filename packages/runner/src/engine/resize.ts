// Live resize: new cpu, memory and pids limits on a running environment's cgroups. The control
// plane has already recorded them as desired state; this applies them and records what was
// applied in the handle (observe() reports it, so a reconcile pass can tell whether a change
// still has to be applied). A stopped environment only gets the handle updated: start rebuilds
// the bundle's config.json from the spec, so the next start uses the new values anyway.
import { formatSize, type Resources, type RunnerEnvSpec, WarrenError } from "@warren/protocol";
import type { CgroupLimits } from "../cgroups/types.ts";
import { hostNames } from "../host/names.ts";
import { appendEvent, logLimits } from "../logs/env-log.ts";
import { readHandle, writeHandle } from "../state/handle.ts";
import type { EngineContext } from "./context.ts";

export function limitsOf(r: Resources): CgroupLimits {
  return { cpus: r.cpus, memoryBytes: r.memoryBytes, pids: r.pids };
}

export function describeLimits(r: Resources): string {
  return `${r.cpus} cpus, ${formatSize(r.memoryBytes)} memory, ${r.pids} pids`;
}

export async function resizeEnv(ctx: EngineContext, spec: RunnerEnvSpec): Promise<void> {
  const names = hostNames(ctx.cfg, spec.id);
  const handle = await readHandle(names.handleFile);
  if (!handle) {
    throw new WarrenError("ENV_NOT_RUNNING", `environment ${spec.id} has nothing on this host yet`);
  }
  const old = handle.spec.resources;
  const rt = ctx.runtimes.get(handle.spec.runtime);
  const st = rt ? await rt.state(names.containerId) : null;
  if (st?.status === "running") {
    try {
      await ctx.cgroups.setLimits(names.cgroupPath, limitsOf(spec.resources));
    } catch (err) {
      // The driver writes cpu before memory and puts back only the memory files it touched,
      // so a refused memory change would otherwise leave the new cpu quota behind.
      await ctx.cgroups.setLimits(names.cgroupPath, limitsOf(old)).catch(() => undefined);
      throw err;
    }
  }
  const resources = { ...spec.resources, diskBytes: old.diskBytes }; // the disk is not resized live
  await writeHandle(names.handleFile, { ...handle, spec: { ...handle.spec, resources } });
  if (st?.status === "running") {
    await appendEvent(names.logFile, `resources set: ${describeLimits(resources)}`, logLimits(ctx.cfg)).catch(
      () => undefined,
    );
  }
}
