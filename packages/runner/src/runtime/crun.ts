// crun: about twice as fast as runc to start. On a hybrid cgroup host it runs through
// native/bin/warren-crun-hybrid, which hides /sys/fs/cgroup/unified in a private mount
// namespace so crun sees plain cgroup v1 (see the comment in warren-crun-hybrid.c).
import path from "node:path";
import type { RunnerConfig } from "../host/config.ts";
import { type CgroupLayout, hostCgroupLayout } from "./cgroup-layout.ts";
import { OciCliRuntime } from "./oci-cli.ts";

export const CRUN_HYBRID_WRAPPER = "warren-crun-hybrid";

export function crunRuntime(
  cfg: Pick<RunnerConfig, "runDir" | "nativeDir">,
  layout: CgroupLayout = hostCgroupLayout(),
): OciCliRuntime {
  const binary = layout === "hybrid" ? path.join(cfg.nativeDir, CRUN_HYBRID_WRAPPER) : "crun";
  return new OciCliRuntime({ name: "crun", binary, stateRoot: path.join(cfg.runDir, "crun") });
}
