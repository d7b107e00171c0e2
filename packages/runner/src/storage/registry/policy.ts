// The runner's registry policy, from its config or the daemon's environment. Read per pull, so
// a malformed allow-list fails the pull with a message instead of the daemon's start.
import type { RunnerConfig } from "../../host/config.ts";
import { ALLOW_ENV, parseAllowList } from "./address-guard.ts";
import type { HttpPolicy } from "./http.ts";

export const INSECURE_ENV = "WARREN_REGISTRY_INSECURE";

export function registryPolicy(cfg: Pick<RunnerConfig, "registryAllow" | "registryInsecure">): HttpPolicy {
  const insecure = (cfg.registryInsecure ?? process.env[INSECURE_ENV] ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  return {
    allow: parseAllowList(cfg.registryAllow ?? process.env[ALLOW_ENV]),
    insecure: new Set(insecure),
    timeoutMs: 30_000,
  };
}
