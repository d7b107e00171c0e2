// The OCI spec of an environment and of processes exec'd into it, from the runner's view of
// the environment (spec, image config, id map). The shell starts in /workspaces/NAME.
import path from "node:path";
import { type ExecRequest, type RunnerEnvSpec, SECRETS_DIR } from "@warren/protocol";
import { hostNames } from "../host/names.ts";
import { ociProcessFromExec } from "../runtime/process-file.ts";
import { hostHardLimits } from "../spec/host-limits.ts";
import {
  buildSpec,
  DEFAULT_CAPABILITIES,
  DEFAULT_RLIMITS,
  defaultEnvSpecOptions,
  withBindMount,
  withTmpfs,
} from "../spec/index.ts";
import { clampRlimits } from "../spec/process.ts";
import type { OciSpec } from "../spec/types.ts";
import type { IdMap } from "../storage/types.ts";
import type { EngineContext } from "./context.ts";
import { execWithSecrets } from "./secrets.ts";

const BASE_ENV = [
  "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
  "HOME=/root",
  "LANG=C.UTF-8",
];

/** Image env first, then Warren's defaults for anything the image did not set. */
export function mergeEnv(imageEnv: string[], extra: string[] = []): string[] {
  const out = new Map<string, string>();
  for (const kv of [...BASE_ENV, ...imageEnv, ...extra]) {
    const i = kv.indexOf("=");
    if (i > 0) out.set(kv.slice(0, i), kv);
  }
  return [...out.values()];
}

export function envOciSpec(
  ctx: EngineContext,
  spec: RunnerEnvSpec,
  image: { env: string[] },
  map: IdMap,
): OciSpec {
  const names = hostNames(ctx.cfg, spec.id);
  const resources = ctx.cgroups.ociResources({
    cpus: spec.resources.cpus,
    memoryBytes: spec.resources.memoryBytes,
    pids: spec.resources.pids,
  });
  const etc = path.join(names.envDir, "etc");
  return buildSpec(
    ...defaultEnvSpecOptions({
      rootfs: names.rootfs,
      hostname: spec.name,
      idMap: map,
      cgroupsPath: names.cgroupPath,
      initBinary: path.join(ctx.cfg.nativeDir, "warren-init"),
      env: mergeEnv(image.env),
      cwd: "/",
      workspaceDir: names.workspaceDir,
      resources,
    }),
    withBindMount(path.join(etc, "resolv.conf"), "/etc/resolv.conf", { readonly: true, recursive: false }),
    withBindMount(path.join(etc, "hosts"), "/etc/hosts", { readonly: true, recursive: false }),
    withBindMount(path.join(etc, "hostname"), "/etc/hostname", { readonly: true, recursive: false }),
    withReadonlyCgroupRoot,
    // Secrets (engine/secrets.ts) are written into this after start: a tmpfs has no host side.
    ...(spec.secrets?.length
      ? [withTmpfs(SECRETS_DIR, { mode: "0700", sizeBytes: 8 * 1024 * 1024, extra: ["noexec"] })]
      : []),
  );
}

/**
 * On cgroup v1 both runtimes leave the tmpfs that holds the per-controller mounts at
 * /sys/fs/cgroup writable inside a user namespace (only the controllers are read-only).
 * Listing it as a read-only path makes the runtime bind it onto itself read-only.
 */
function withReadonlyCgroupRoot(spec: OciSpec): void {
  const ro = spec.linux.readonlyPaths ?? [];
  if (!ro.includes("/sys/fs/cgroup")) spec.linux.readonlyPaths = [...ro, "/sys/fs/cgroup"];
}

function parseUser(user: string | undefined): { uid: number; gid: number } {
  if (!user) return { uid: 0, gid: 0 };
  const [u, g] = user.split(":");
  const uid = Number(u);
  const gid = g === undefined ? uid : Number(g);
  if (!Number.isInteger(uid) || !Number.isInteger(gid) || uid < 0 || gid < 0 || uid > 65535 || gid > 65535) {
    throw new Error(`invalid exec user ${JSON.stringify(user)}: use UID[:GID] within 0-65535`);
  }
  return { uid, gid };
}

export function execProcess(
  spec: RunnerEnvSpec,
  req: ExecRequest,
  imageEnv: string[],
  /** The environment has /run/secrets/.env: source it inside before the command (secrets.ts). */
  withSecretEnv = false,
): Record<string, unknown> {
  const { uid, gid } = parseUser(req.user);
  const extra = Object.entries(req.env ?? {}).map(([k, v]) => `${k}=${v}`);
  if (req.tty && !(req.env && "TERM" in req.env)) extra.push("TERM=xterm-256color");
  if (uid !== 0) extra.push("HOME=/");
  const proc = ociProcessFromExec({
    // The image may lack /bin/sh; only environments given variable secrets get the wrapper.
    args: withSecretEnv ? execWithSecrets(req.cmd) : req.cmd,
    env: mergeEnv(imageEnv, extra),
    cwd: req.cwd ?? `/workspaces/${spec.name}`,
    uid,
    gid,
    tty: req.tty,
    capabilities: [...DEFAULT_CAPABILITIES],
    rlimits: clampRlimits(DEFAULT_RLIMITS, hostHardLimits()),
  });
  return proc as unknown as Record<string, unknown>;
}
