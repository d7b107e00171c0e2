// What the host says about one environment, for the control plane's observed state.
import type { EnvObserved } from "@warren/protocol";
import { slotRange } from "../host/idrange.ts";
import { hostNames } from "../host/names.ts";
import { readHandle } from "../state/handle.ts";
import type { EngineContext } from "./context.ts";

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
  };
  if (st?.status !== "running" || !st.pid) return base;
  const psi = await ctx.cgroups.psi(names.cgroupPath).catch(() => ({ cpu: null, memory: null, io: null }));
  return { ...base, state: "running", pid: st.pid, psi };
}
