// What a merged configuration may ask for. Everything that would weaken the sandbox (host bind
// mounts, privileged, extra capabilities, security options, raw `docker run` flags) is refused
// unless the organisation's policy allows it; the message names the property, where it came from
// and the policy switch.
import { WarrenError } from "@warren/protocol";
import { mergeOrigins } from "./merge.ts";
import { parseMount } from "./mounts.ts";
import { DEFAULT_DEVCONTAINER_POLICY, type DevcontainerPolicy, type MergedConfig } from "./types.ts";

/**
 * The capabilities every environment already has: Docker's default set, which the runner grants
 * (packages/runner/src/spec/capabilities.ts; copied because runner code is not imported here).
 * Asking for one of these in capAdd changes nothing and is allowed.
 */
export const DEFAULT_CAPABILITIES: readonly string[] = [
  "CHOWN",
  "DAC_OVERRIDE",
  "FSETID",
  "FOWNER",
  "MKNOD",
  "NET_RAW",
  "SETGID",
  "SETUID",
  "SETFCAP",
  "SETPCAP",
  "NET_BIND_SERVICE",
  "SYS_CHROOT",
  "KILL",
  "AUDIT_WRITE",
];

function refuse(
  what: string,
  from: string | undefined,
  policy: keyof DevcontainerPolicy,
  details: Record<string, unknown>,
): never {
  const source = from ?? "devcontainer.json";
  throw new WarrenError(
    "POLICY_DENIED",
    `${source} asks for ${what}: refused by the organisation's policy ${policy}; remove it, or ask an admin to turn on ${policy}`,
    { policy, source, ...details },
  );
}

function capName(c: string): string {
  return c.trim().toUpperCase().replace(/^CAP_/, "");
}

/** Throws WarrenError(POLICY_DENIED) for the first thing the policy refuses; INVALID_ARGUMENT for compose. */
export function checkPolicy(
  merged: MergedConfig,
  policy: DevcontainerPolicy = DEFAULT_DEVCONTAINER_POLICY,
): void {
  if (merged.dockerComposeFile !== undefined) {
    throw new WarrenError(
      "INVALID_ARGUMENT",
      "devcontainer.json uses dockerComposeFile: Docker Compose is not supported; install tools with Features, and run databases and other services as .warren/automations.yaml services",
      { property: "dockerComposeFile" },
    );
  }
  const o = mergeOrigins(merged);
  if (merged.privileged === true && !policy.allowPrivileged) {
    refuse("privileged: true", o?.privileged[0], "allowPrivileged", { property: "privileged" });
  }
  for (const c of merged.capAdd ?? []) {
    if (!DEFAULT_CAPABILITIES.includes(capName(c)) && !policy.allowCapAdd) {
      refuse(
        `capAdd ${c} (beyond the default set ${DEFAULT_CAPABILITIES.join(", ")})`,
        o?.capAdd.get(c),
        "allowCapAdd",
        { property: "capAdd", value: c },
      );
    }
  }
  for (const s of merged.securityOpt ?? []) {
    if (!policy.allowSecurityOpt)
      refuse(`securityOpt ${s}`, o?.securityOpt.get(s), "allowSecurityOpt", {
        property: "securityOpt",
        value: s,
      });
  }
  if ((merged.runArgs?.length ?? 0) > 0 && !policy.allowRunArgs) {
    refuse(`runArgs ${JSON.stringify(merged.runArgs)}`, "devcontainer.json", "allowRunArgs", {
      property: "runArgs",
    });
  }
  for (const m of merged.mounts ?? []) {
    const p = parseMount(m);
    const shown = typeof m === "string" ? m : JSON.stringify(m);
    if (!p) {
      throw new WarrenError(
        "INVALID_ARGUMENT",
        `mount ${shown} has no target; write it as "source=NAME,target=/path,type=volume"`,
        {
          property: "mounts",
        },
      );
    }
    const from = o?.mounts.get(p.target);
    if (p.type === "bind") {
      if (!policy.allowHostMounts)
        refuse(`a host bind mount (${shown})`, from, "allowHostMounts", { property: "mounts", value: shown });
    } else if (p.type !== "volume") {
      throw new WarrenError(
        "INVALID_ARGUMENT",
        `${from ?? "devcontainer.json"} asks for a mount of type ${p.type} (${shown}): not supported; use type=volume (kept on the environment's disk)`,
        { property: "mounts", value: shown },
      );
    }
  }
}
