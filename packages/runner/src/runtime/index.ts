// OCI runtime drivers (runc, crun, gvisor), picked by name. Every driver passes test/runtime-conformance.host.test.ts.
import { RUNTIMES, type RuntimeName, WarrenError } from "@warren/protocol";
import type { RunnerConfig } from "../host/config.ts";
import { crunRuntime } from "./crun.ts";
import { gvisorRuntime } from "./gvisor.ts";
import { runcRuntime } from "./runc.ts";
import type { Runtime } from "./types.ts";

export { type CgroupLayout, cgroupLayoutFromMountinfo, hostCgroupLayout } from "./cgroup-layout.ts";
export { CRUN_HYBRID_WRAPPER, crunRuntime } from "./crun.ts";
export { GVISOR_UNSUPPORTED, GvisorRuntime, gvisorRuntime, RUNSC_WRAPPER } from "./gvisor.ts";
export { type OciCliOptions, OciCliRuntime } from "./oci-cli.ts";
export { ociProcessFromExec, writeProcessFile } from "./process-file.ts";
export { runcRuntime } from "./runc.ts";
export type * from "./types.ts";

export const SUPPORTED_RUNTIMES: readonly RuntimeName[] = RUNTIMES;

export function isRuntimeName(name: string): name is RuntimeName {
  return (SUPPORTED_RUNTIMES as readonly string[]).includes(name);
}

export function runtimeFor(name: string, cfg: RunnerConfig): Runtime {
  switch (name) {
    case "runc":
      return runcRuntime(cfg);
    case "crun":
      return crunRuntime(cfg);
    case "gvisor":
      return gvisorRuntime(cfg);
    default:
      throw new WarrenError(
        "RUNTIME_UNSUPPORTED",
        `unknown runtime "${name}": use one of ${SUPPORTED_RUNTIMES.join(", ")}`,
        { runtime: name },
      );
  }
}
