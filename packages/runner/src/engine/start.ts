// Brings one environment to running, creating only what is missing. Every step is idempotent
// and named by failpoints, so a daemon killed at any step converges on the next pass.
// Every step here is host code or a host binary acting on the environment from outside; the
// only code of the image that ever runs is the environment's own processes (runtime exec, or
// children of its init). Anything that must act inside goes through the Runtime interface
// (deliverFiles), never a branch on the runtime's name: see the rule in runtime/types.ts.
import { existsSync } from "node:fs";
import { lchown, lstat, mkdir, readFile, rename, unlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { failpoint, type RunnerEnvSpec, WarrenError, wrap } from "@warren/protocol";
import { slotRange } from "../host/idrange.ts";
import { hostNames } from "../host/names.ts";
import { appendEvent, logLimits } from "../logs/env-log.ts";
import { envAddress, networkConfig } from "../network/index.ts";
import type { Runtime } from "../runtime/types.ts";
import { HANDLE_VERSION, readHandle, writeHandle } from "../state/handle.ts";
import { attachLoop, createDisk, mountDisk } from "../storage/disk.ts";
import { createDiskFromTemplate, finishTemplateCopy } from "../storage/disk-template.ts";
import { discardWritableLayer, mountRootfs } from "../storage/rootfs.ts";
import type { EngineContext } from "./context.ts";
import { dnsZone } from "./dns.ts";
import { envOciSpec } from "./env-spec.ts";
import { forgetEnvUser, setupEnvUser } from "./env-user.ts";
import { checkEnvAdditions, ensureVolumes } from "./env-volumes.ts";
import { hostsFile } from "./hosts.ts";
import { attachNetwork, writeResolvConf } from "./network.ts";
import { secretDeliveryFailure } from "./secret-failure.ts";
import { deliverSecrets, forgetSecrets } from "./secrets.ts";

export function runtimeOf(ctx: EngineContext, name: string): Runtime {
  const rt = ctx.runtimes.get(name as never);
  if (!rt) {
    throw new WarrenError(
      "RUNTIME_UNSUPPORTED",
      `runtime "${name}" is not available on this runner; use one of: ${[...ctx.runtimes.keys()].join(", ")}`,
    );
  }
  return rt;
}

/** Disk, mounts and bundle: everything up to (not including) the container. */
export async function prepareHost(ctx: EngineContext, withSecrets: RunnerEnvSpec): Promise<void> {
  const { cfg } = ctx;
  // Secrets stay in memory: handle.json keeps the spec without them (config.json has only the
  // tmpfs mount that receives them, see envOciSpec).
  const { secrets: _secrets, ...spec } = withSecrets;
  const names = hostNames(cfg, spec.id);
  const map = slotRange(ctx.idRange, spec.slot);
  checkEnvAdditions(spec);
  const existing = await readHandle(names.handleFile);
  // A new image: the writable layer made on the old one goes (the workspace stays). The marker is
  // written before the handle names the new image, so a crash in between still discards it.
  const discardMark = path.join(names.envDir, "discard-root");
  if (existing && existing.spec.image !== spec.image)
    await writeFile(discardMark, `${existing.spec.image}\n`);
  if (!existing) {
    await writeHandle(names.handleFile, {
      version: HANDLE_VERSION,
      spec,
      createdAt: new Date().toISOString(),
      hostStart: map.hostStart,
    });
  } else if (JSON.stringify(existing.spec) !== JSON.stringify(spec)) {
    await writeHandle(names.handleFile, { ...existing, spec });
  }
  const image = await ctx.images.get(spec.image);

  failpoint("disk-create");
  if (spec.template && !existsSync(names.diskImage)) {
    // A prebuilt disk: its writable layer belongs to the image it was made on, else it goes.
    const t = await createDiskFromTemplate(
      cfg,
      names,
      spec.template,
      spec.resources.diskBytes,
      map.hostStart,
    );
    if (t.image !== spec.image) await writeFile(discardMark, `${t.image}\n`);
  }
  await createDisk(cfg, names, spec.resources.diskBytes).catch((e) => {
    throw wrap("create disk", e);
  });
  failpoint("loop-attach");
  await attachLoop(names.diskImage).catch((e) => {
    throw wrap("attach loop device", e);
  });
  failpoint("mount-disk");
  await mountDisk(cfg, names, map).catch((e) => {
    throw wrap("mount disk", e);
  });
  await finishTemplateCopy(names, map.hostStart);
  if (await lstat(discardMark).catch(() => null)) {
    await discardWritableLayer(names);
    await mountDisk(cfg, names, map);
    await unlink(discardMark);
  }
  await workspaceFolder(path.join(names.workspaceDir, spec.name), map.hostStart);
  await ensureVolumes(names, spec, map.hostStart);

  failpoint("mount-lower");
  await mountRootfs(cfg, names, image.layerDirs, map).catch((e) => {
    throw wrap("mount rootfs", e);
  });

  const etcDir = path.join(names.envDir, "etc");
  await mkdir(etcDir, { recursive: true });
  // The files are independent of each other: written side by side.
  const etcFiles = Promise.all([
    writeResolvConf(ctx, spec.id),
    writeFile(path.join(etcDir, "hostname"), `${spec.name}\n`),
    writeFile(
      path.join(etcDir, "hosts"),
      hostsFile(spec.name, envAddress(networkConfig(cfg), spec.slot), dnsZone()),
    ),
  ]);
  etcFiles.catch(() => undefined); // awaited below; this only marks an early failure as handled

  failpoint("bundle-write");
  await mkdir(names.bundleDir, { recursive: true, mode: 0o700 });
  const oci = envOciSpec(ctx, withSecrets, image.config, map);
  const tmp = path.join(names.bundleDir, "config.json.tmp");
  await Promise.all([etcFiles, writeFile(tmp, JSON.stringify(oci))]);
  await rename(tmp, path.join(names.bundleDir, "config.json"));
}

/**
 * /workspaces/NAME on the environment's disk, root's inside (the configured user gets it after
 * start, env-user.ts). Its processes may have left a symlink there while it last ran; host code
 * never follows one: the link goes (its target is untouched) and lchown changes only the folder.
 */
async function workspaceFolder(dir: string, rootId: number): Promise<void> {
  const st = await lstat(dir).catch(() => null);
  if (st?.isSymbolicLink()) await unlink(dir);
  else if (st && !st.isDirectory()) {
    throw new WarrenError(
      "INVALID_ARGUMENT",
      `the workspace folder ${path.basename(dir)} is a file, not a folder; restore it from a backup or recreate the environment`,
    );
  }
  await mkdir(dir, { recursive: true });
  await lchown(dir, rootId, rootId);
}

/** Creates and starts the container. The caller has checked it does not run already. */
export async function startContainer(ctx: EngineContext, spec: RunnerEnvSpec): Promise<void> {
  const names = hostNames(ctx.cfg, spec.id);
  const rt = runtimeOf(ctx, spec.runtime);
  const st = await rt.state(names.containerId);
  if (st && st.status !== "created") {
    // A stopped container from an earlier run (or a reboot): recreate it from the bundle.
    await rt.delete(names.containerId, true);
  }
  // The init pid comes from the runtime's pid file: asking `state` costs another runtime process.
  const pidFile = path.join(names.envDir, "init.pid");
  const initPid = (async () => {
    if (st?.status === "created") return st.pid;
    await unlink(pidFile).catch(() => undefined);
    failpoint("runtime-create");
    await rt.create(names.containerId, names.bundleDir, { logFile: names.logFile, pidFile }).catch((e) => {
      throw wrap(`${rt.name} create`, e);
    });
    const pid = Number((await readFile(pidFile, "utf8").catch(() => "")).trim());
    return pid > 0 ? pid : ((await rt.state(names.containerId))?.pid ?? 0);
  })();
  // Whatever does not need the container goes on while the runtime creates it: the network's
  // firewall elements, and clearing the markers of the last run.
  const [pid] = await Promise.all([
    initPid,
    attachNetwork(ctx, spec, initPid),
    forgetSecrets(names.envDir),
    forgetEnvUser(names.envDir),
  ]);
  if (!pid) throw new Error(`${rt.name} create: container has no init pid`);
  const created = { pid };
  failpoint("cgroup-attach");
  await ctx.cgroups.attachPsi(names.cgroupPath, created.pid).catch((e) => {
    throw wrap("attach pressure cgroup", e);
  });
  failpoint("runtime-start");
  await rt.start(names.containerId).catch((e) => {
    throw wrap(`${rt.name} start`, e);
  });
  await deliverStartedSecrets(rt, names.containerId, names.envDir, spec);
  await setupStartedUser(rt, names.containerId, names.envDir, spec);
  await appendEvent(names.logFile, `started (${rt.name}, init pid ${created.pid})`, logLimits(ctx.cfg));
}

/**
 * Secrets go in once the container runs, through the driver (Runtime.deliverFiles). On failure
 * the container is removed: a running environment without its secrets would look ready.
 */
export async function deliverStartedSecrets(
  rt: Runtime,
  containerId: string,
  envDir: string,
  spec: RunnerEnvSpec,
): Promise<void> {
  await deliverSecrets(rt, containerId, envDir, spec.secrets ?? []).catch(async (e) => {
    await rt.delete(containerId, true).catch(() => undefined);
    throw secretDeliveryFailure(spec.name, spec.secrets ?? [], e);
  });
}

/**
 * After the secrets (the user gets them too): the configured user, made if the image lacks it.
 * On failure the container is removed, as for secrets: it would look ready but land exec as root.
 */
export async function setupStartedUser(
  rt: Runtime,
  containerId: string,
  envDir: string,
  spec: RunnerEnvSpec,
): Promise<void> {
  await setupEnvUser(rt, containerId, envDir, spec).catch(async (e) => {
    await rt.delete(containerId, true).catch(() => undefined);
    throw e;
  });
}
