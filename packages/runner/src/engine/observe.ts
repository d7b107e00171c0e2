// What the host says about one environment, for the control plane's observed state.
import type { EnvObserved } from "@warren/protocol";
import { cpuGovernorView } from "../governor/view.ts";
import { slotRange } from "../host/idrange.ts";
import { hostNames } from "../host/names.ts";
import { readOomRecord } from "../logs/oom-watch.ts";
import { envAddress, networkConfig } from "../network/index.ts";
import { readHandle } from "../state/handle.ts";
import type { EngineContext } from "./context.ts";
import { processStartTime } from "./start-time.ts";
import { workspaceDirty } from "./stop-mark.ts";

export async function observeEnv(ctx: EngineContext, id: string): Promise<EnvObserved> {
  const names = hostNames(ctx.cfg, id);
  const handle = await readHandle(names.handleFile);
  if (!handle) return { id, state: "absent" };
  const rt = ctx.runtimes.get(handle.spec.runtime);
  const st = rt ? await rt.state(names.containerId) : null;
  const range = slotRange(ctx.idRange, handle.spec.slot);
  const base: EnvObserved = {
    id,
    state: "stopped",
    runtime: handle.spec.runtime,
    uidRange: { start: range.hostStart, size: range.size },
    cgroupPaths: ctx.cgroups.paths(names.cgroupPath),
    resources: handle.spec.resources,
    workspaceDirty: await workspaceDirty(names),
  };
  // Kept by the OOM watch beside the log: stopped environments still show their kills.
  const oom = await readOomRecord(names.logFile);
  if (oom && oom.kills > 0) base.oom = oom;
  if (st?.status !== "running" || !st.pid) return base;
  const psi = await ctx.cgroups.psi(names.cgroupPath).catch(() => ({ cpu: null, memory: null, io: null }));
  // Derived from the slot, as the network set-up does; shown only while it is in use.
  const ip = envAddress(networkConfig(ctx.cfg), handle.spec.slot);
  const startedAt = await processStartTime(st.pid);
  const cpuGovernor = await cpuGovernorView(
    ctx.cgroups,
    ctx.governor,
    id,
    names.cgroupPath,
    handle.spec.resources.cpus,
  );
  return {
    ...base,
    state: "running",
    pid: st.pid,
    psi,
    ip,
    ...(startedAt ? { startedAt } : {}),
    ...(cpuGovernor ? { cpuGovernor } : {}),
  };
}
