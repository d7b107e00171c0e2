// runc: the reference OCI runtime. Works as is on v1, hybrid and v2 hosts.
import path from "node:path";
import type { RunnerConfig } from "../host/config.ts";
import { DELIVER_HELPER } from "./deliver-files.ts";
import { OciCliRuntime } from "./oci-cli.ts";

export function runcRuntime(cfg: Pick<RunnerConfig, "runDir" | "nativeDir">, binary = "runc"): OciCliRuntime {
  return new OciCliRuntime({
    name: "runc",
    binary,
    stateRoot: path.join(cfg.runDir, "runc"),
    deliverHelper: path.join(cfg.nativeDir, DELIVER_HELPER),
    runningWhileInitLives: true,
  });
}
