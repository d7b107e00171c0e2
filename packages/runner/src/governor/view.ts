// One environment's CPU cap for `warren inspect` and /metrics: the kernel's values read now (so
// they are true with the governor off too) and the governor's last decision beside them.
import type { EnvCpuGovernor } from "@warren/protocol";
import { CPU_PERIOD_US } from "../cgroups/oci.ts";
import type { CgroupDriver } from "../cgroups/types.ts";
import { readCpuGroup } from "./cgroup-cpu.ts";
import type { CpuGovernor } from "./loop.ts";

const round = (n: number, places = 3) => Math.round(n * 10 ** places) / 10 ** places;

/** undefined when the group is gone (the environment stopped) or unreadable. */
export async function cpuGovernorView(
  cgroups: Pick<CgroupDriver, "mode" | "paths">,
  governor: CpuGovernor | undefined,
  id: string,
  cgroupPath: string,
  cpus: number,
): Promise<EnvCpuGovernor | undefined> {
  const r = await readCpuGroup(cgroups, cgroupPath).catch(() => null);
  if (!r) return undefined;
  const limitCores = r.current.quotaUs === null ? null : round(r.current.quotaUs / CPU_PERIOD_US);
  const counters = {
    throttledPeriodsTotal: r.nrThrottled,
    throttledSecondsTotal: round(r.throttledNs / 1e9, 6),
  };
  const m = governor?.memory(id);
  if (!governor || !m) {
    return {
      governed: governor !== undefined,
      limitCores,
      baseCores: cpus,
      burstCores: cpus,
      granted: false,
      burstGrantsTotal: 0,
      ...counters,
      explanation: governor
        ? "not yet governed: the governor's next tick takes it"
        : "the CPU governor is off on this runner (WARREN_GOVERNOR=off): the class cpus are the cap",
    };
  }
  return {
    governed: true,
    limitCores,
    baseCores: m.baseCores,
    burstCores: m.burstCores,
    granted: m.granted,
    burstGrantsTotal: m.burstGrantsTotal,
    ...counters,
    ...(m.explanation ? { explanation: m.explanation } : {}),
  };
}
