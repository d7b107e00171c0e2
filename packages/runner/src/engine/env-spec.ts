// The OCI spec of an environment and of processes exec'd into it, from the runner's view of
// the environment (spec, image config, id map). The shell starts in /workspaces/NAME.
import path from "node:path";
import { type ExecRequest, type RunnerEnvSpec, SECRETS_DIR } from "@warren/protocol";
import type { ExecUser } from "../exec/exec-user.ts";
import { hostNames } from "../host/names.ts";
import { ociProcessFromExec } from "../runtime/process-file.ts";
import { hostHardLimits } from "../spec/host-limits.ts";
import {
  buildSpec,
  DEFAULT_CAPABILITIES,
  DEFAULT_RLIMITS,
  defaultEnvSpecOptions,
  INIT_PATH_IN_CONTAINER,
  withBindMount,
  withProcViews,
  withTmpfs,
} from "../spec/index.ts";
import { clampRlimits, execOomScore } from "../spec/process.ts";
import type { OciSpec } from "../spec/types.ts";
import type { IdMap } from "../storage/types.ts";
import type { EngineContext } from "./context.ts";
import { withDiskIoLimits } from "./env-io.ts";
import { configuredUser, type EnvUser } from "./env-user.ts";
import { specEnvPairs, volumeDir } from "./env-volumes.ts";
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
      relayBinary: path.join(ctx.cfg.nativeDir, "warren-relay"),
      superviseBinary: path.join(ctx.cfg.nativeDir, "warren-supervise"),
      env: mergeEnv(image.env, specEnvPairs(spec)),
      cwd: "/",
      workspaceDir: names.workspaceDir,
      resources,
    }),
    withBindMount(path.join(etc, "resolv.conf"), "/etc/resolv.conf", { readonly: true, recursive: false }),
    withBindMount(path.join(etc, "hosts"), "/etc/hosts", { readonly: true, recursive: false }),
    withBindMount(path.join(etc, "hostname"), "/etc/hostname", { readonly: true, recursive: false }),
    withReadonlyCgroupRoot,
    // Its class's disk I/O limits on its own loop device, only when set.
    ...(spec.io ? [withDiskIoLimits(names.diskImage, spec.io)] : []),
    // Per-environment meminfo, cpuinfo, uptime... while the runner's lxcfs serves them.
    ...(ctx.lxcfs?.pid() !== undefined ? [withProcViews(ctx.lxcfs.paths.mountDir)] : []),
    ...(spec.volumes ?? []).map((v) =>
      withBindMount(volumeDir(names, v.name), v.target, { readonly: false, recursive: false }),
    ),
    // Secrets (engine/secrets.ts) are written into this after start: a tmpfs has no host side.
    // With a configured user, its group may enter (env-user.ts gives it the directory's group
    // and each file); the files stay 0400.
    ...(spec.secrets?.length || spec.warm
      ? [
          withTmpfs(SECRETS_DIR, {
            mode: configuredUser(spec) ? "0750" : "0700",
            sizeBytes: 8 * 1024 * 1024,
            extra: ["noexec"],
          }),
        ]
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
  /** The environment's configured user (env-user.ts), whom a request without a user lands as. */
  envUser?: EnvUser,
  /** The request's user as exec/exec-user.ts resolved it inside. */
  execUser?: ExecUser,
): Record<string, unknown> {
  const asEnvUser = req.user === undefined ? envUser : undefined;
  const who: { name?: string; uid: number; gid: number; home: string; groups?: number[] } | undefined =
    asEnvUser ?? (req.user !== undefined ? execUser : undefined);
  const { uid, gid } = who ?? parseUser(req.user);
  const extra = Object.entries(req.env ?? {}).map(([k, v]) => `${k}=${v}`);
  if (req.tty && !(req.env && "TERM" in req.env)) extra.push("TERM=xterm-256color");
  if (who) {
    const mine = (k: string) => !(req.env && k in req.env);
    if (mine("HOME")) extra.push(`HOME=${who.home}`);
    if (who.name && mine("USER")) extra.push(`USER=${who.name}`);
    if (who.name && mine("LOGNAME")) extra.push(`LOGNAME=${who.name}`);
  } else if (uid !== 0) extra.push("HOME=/");
  // Warren's init (mounted in every environment) execs the command in place, or says why it
  // could not with the shells' 127 or 126: one message and status whatever the runtime.
  extra.push(`${INIT_EXEC_VAR}=1`);
  const oom = execOomScore(req.helper === true);
  extra.push(...oom.env);
  const cmd = [INIT_PATH_IN_CONTAINER, "--", ...req.cmd];
  const proc = ociProcessFromExec({
    // The image may lack /bin/sh; only environments given variable secrets get the wrapper.
    args: withSecretEnv ? execWithSecrets(cmd) : cmd,
    env: mergeEnv(imageEnv, [...specEnvPairs(spec), ...extra]),
    cwd: req.cwd ?? `/workspaces/${spec.name}`,
    uid,
    gid,
    tty: req.tty,
    capabilities: [...DEFAULT_CAPABILITIES],
    rlimits: clampRlimits(DEFAULT_RLIMITS, hostHardLimits()),
    oomScoreAdj: oom.oomScoreAdj,
  });
  if (who?.groups?.length) proc.user = { ...proc.user, additionalGids: [...who.groups] };
  return proc as unknown as Record<string, unknown>;
}

/** Set for the command's init (warren-init.c), which removes it before the command runs. */
const INIT_EXEC_VAR = "WARREN_INIT_EXEC";
