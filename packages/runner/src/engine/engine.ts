// The runner's implementation of the runner protocol on one host. Stateless between calls:
// everything it needs is on disk (handles, runtime state, mounts), so a restarted daemon
// re-adopts running environments simply by observing them.
//
// No code of an image ever runs on the host side: image binaries run only as processes of
// their environment (the runtime's exec, or children of its init), inside all its namespaces,
// cgroup, seccomp profile and capability bounds. Host-side steps (disks, mounts, network, logs,
// stats) use host code and host binaries only, and whatever must happen inside an environment
// goes through the Runtime interface, with no branch on the runtime's name here. The full rule
// is at the top of runtime/types.ts; test/hostile-image-corpus.ts holds it to that.
import os from "node:os";
import path from "node:path";
import type { Duplex } from "node:stream";
import {
  type BuildImageRequest,
  type BuiltImage,
  checkExecEnv,
  type DnsStats,
  type EnvObserved,
  type EnvStats,
  type ExecHandlers,
  type ExecRequest,
  type ExecSession,
  type FeatureFetchRequest,
  type FetchedFeature,
  type ImageInfo,
  type ListeningPort,
  type LogStream,
  type ProgressFn,
  type PullOptions,
  type RunnerApi,
  type RunnerEnvSpec,
  type RunnerInfo,
  type SavedTemplate,
  WarrenError,
} from "@warren/protocol";
import { buildImage, fetchFeature, imageLabels } from "../build/index.ts";
import { detectCgroupMode } from "../cgroups/detect.ts";
import { CONSOLE_HELPER } from "../exec/exec-plan.ts";
import { startExec } from "../exec/exec-session.ts";
import { resolveExecUser } from "../exec/exec-user.ts";
import { hostnameLabel } from "../host/identity.ts";
import { hostNames } from "../host/names.ts";
import { appendEvent, logLimits, streamLog } from "../logs/env-log.ts";
import { HostGuard, readHostMemoryPressure } from "../metrics/host-guard.ts";
import { readHandle } from "../state/handle.ts";
import { diskFloorBytes, diskSpace } from "../storage/disk.ts";
import { removeDiskTemplate } from "../storage/disk-template.ts";
import { evictImages, pruneImages, removeImage } from "../storage/image-cache.ts";
import { registryPolicy } from "../storage/registry/policy.ts";
import { pullFromRegistry } from "../storage/registry/pull.ts";
import type { EngineContext } from "./context.ts";
import { dialEnv } from "./dial.ts";
import { anyEnvironmentRuns } from "./dns.ts";
import { execProcess } from "./env-spec.ts";
import { configuredUser, readEnvUser } from "./env-user.ts";
import { notYet } from "./features.ts";
import { KeyedLock } from "./keyed-lock.ts";
import { observeEnv } from "./observe.ts";
import { listEnvPorts } from "./ports.ts";
import { resizeEnv } from "./resize.ts";
import { saveEnvTemplate } from "./save-template.ts";
import { hasSecretEnv, secretsDelivered } from "./secrets.ts";
import { deliverStartedSecrets, prepareHost, runtimeOf, setupStartedUser, startContainer } from "./start.ts";
import { CpuMeter, envStats } from "./stats.ts";
import { removeEverything, stopContainer } from "./stop.ts";
import { clearStopMark, markStopped } from "./stop-mark.ts";
import { idsOnHost } from "./sweep.ts";
import { takeOverName } from "./takeover.ts";

export class Engine implements RunnerApi {
  readonly ctx: EngineContext;
  readonly #lock = new KeyedLock();
  readonly #runnerId: string;
  readonly #cpu = new CpuMeter();
  /** Unschedulable while the host is short of memory or disk, and for 5 minutes after. */
  readonly #guard = new HostGuard();

  // The embedded daemon's runner is always "local", the id its environments are recorded under
  // (server migration 016): not the hostname, so renaming the host cannot restart its slot count
  // while environments still hold slots. A remote runner's id is its token's, set by the server.
  constructor(ctx: EngineContext, runnerId = "local") {
    this.ctx = ctx;
    this.#runnerId = runnerId;
  }

  async info(): Promise<RunnerInfo> {
    const { cfg, usage, hostId } = this.ctx;
    const disk = diskSpace(cfg);
    const diskFreeBytes = disk.freeBytes;
    const live = usage?.read();
    const unschedulable =
      live &&
      this.#guard.check({
        usage: live,
        memoryPressureFullAvg10: readHostMemoryPressure(),
        disk: { freeBytes: diskFreeBytes, floorBytes: diskFloorBytes(cfg, disk.totalBytes) },
      });
    return {
      id: this.#runnerId,
      hostname: os.hostname(),
      runtimes: [...this.ctx.runtimes.keys()],
      cpus: os.availableParallelism(),
      memoryBytes: os.totalmem(),
      diskFreeBytes,
      cgroupMode: detectCgroupMode(),
      idRange: this.ctx.idRange,
      name: cfg.name ?? hostnameLabel(),
      ...(cfg.labels ? { labels: cfg.labels } : {}),
      ...(live
        ? {
            usage: {
              cpuEwmaCores: live.cpuEwmaCores,
              memoryWorkingSetBytes: live.memoryWorkingSetBytes,
              memoryAvailableBytes: live.memoryAvailableBytes,
            },
          }
        : {}),
      ...(unschedulable ? { unschedulable } : {}),
      ...(hostId ? { hostId } : {}),
    };
  }

  ensureRunning(spec: RunnerEnvSpec): Promise<EnvObserved> {
    return this.#lock.run(spec.id, async () => {
      const names = hostNames(this.ctx.cfg, spec.id);
      const rt = runtimeOf(this.ctx, spec.runtime);
      const st = await rt.state(names.containerId);
      this.ctx.ownNames?.set(spec.slot, spec.name);
      if (st?.status === "running") {
        // Re-adopted after a daemon restart: make sure the pressure group holds it too, and
        // that a daemon killed between start and delivery did not leave it without secrets.
        await this.ctx.cgroups.attachPsi(names.cgroupPath, st.pid).catch(() => undefined);
        // A warm-pool member taken over under a new name (its user, secrets follow below).
        await takeOverName(this.ctx, spec, st.pid);
        if (spec.secrets?.length && !(await secretsDelivered(names.envDir))) {
          await deliverStartedSecrets(rt, names.containerId, names.envDir, spec);
        }
        if (configuredUser(spec) && !(await readEnvUser(names.envDir, spec))) {
          await setupStartedUser(rt, names.containerId, names.envDir, spec);
        }
        return observeEnv(this.ctx, spec.id);
      }
      await clearStopMark(names);
      // Before the bundle is written: it binds the views only while lxcfs serves them.
      await this.ctx.lxcfs?.ensure();
      await prepareHost(this.ctx, spec);
      await startContainer(this.ctx, spec);
      await this.ctx.images.touch(spec.image).catch(() => undefined);
      return observeEnv(this.ctx, spec.id);
    });
  }

  ensureStopped(spec: RunnerEnvSpec, graceMs: number): Promise<EnvObserved> {
    return this.#lock.run(spec.id, async () => {
      const rt = this.ctx.runtimes.get(spec.runtime);
      if (rt) await stopContainer(this.ctx, rt, spec.id, graceMs);
      if (rt) await markStopped(hostNames(this.ctx.cfg, spec.id));
      return observeEnv(this.ctx, spec.id);
    });
  }

  remove(id: string): Promise<void> {
    this.#cpu.forget(id);
    return this.#lock.run(id, async () => {
      const handle = await readHandle(hostNames(this.ctx.cfg, id).handleFile).catch(() => null);
      await removeEverything(this.ctx, id);
      if (handle) this.ctx.ownNames?.delete(handle.spec.slot);
    });
  }

  observe(id: string): Promise<EnvObserved> {
    return observeEnv(this.ctx, id);
  }

  async list(): Promise<EnvObserved[]> {
    const ids = await idsOnHost(this.ctx);
    return Promise.all([...ids].map((id) => observeEnv(this.ctx, id)));
  }

  async sweep(keep: Set<string>): Promise<string[]> {
    const swept: string[] = [];
    for (const id of await idsOnHost(this.ctx)) {
      if (keep.has(id)) continue;
      await this.remove(id);
      swept.push(id);
    }
    return swept;
  }

  async exec(id: string, req: ExecRequest, handlers: ExecHandlers): Promise<ExecSession> {
    const names = hostNames(this.ctx.cfg, id);
    const handle = await readHandle(names.handleFile);
    const rt = handle ? this.ctx.runtimes.get(handle.spec.runtime) : undefined;
    const st = rt ? await rt.state(names.containerId) : null;
    if (!handle || !rt || st?.status !== "running") {
      throw new WarrenError(
        "ENV_NOT_RUNNING",
        "the environment is not running; start it with `warren start NAME`",
      );
    }
    const image = await this.ctx.images.get(handle.spec.image).catch(() => null);
    // Without -u, exec lands as the environment's user; never as root in its place.
    const envUser = await readEnvUser(names.envDir, handle.spec);
    if (req.user === undefined && configuredUser(handle.spec) && !envUser) {
      throw new WarrenError(
        "ENV_NOT_RUNNING",
        `user ${handle.spec.user} is still being set up; try again in a moment, or restart with \`warren start ${handle.spec.name}\``,
      );
    }
    if (req.env) checkExecEnv(req.env);
    // -u NAME is looked up in the environment's own /etc/passwd before anything runs as it.
    const execUser =
      req.user === undefined
        ? undefined
        : await resolveExecUser(rt, names.containerId, names.envDir, handle.spec.name, req.user);
    return startExec(
      {
        runtime: rt,
        containerId: names.containerId,
        process: execProcess(
          handle.spec,
          req,
          image?.config.env ?? [],
          await hasSecretEnv(names.envDir),
          envUser,
          execUser,
        ),
        tmpDir: names.envDir,
        tty: req.tty,
        cols: req.cols ?? 80,
        rows: req.rows ?? 24,
        consoleHelper: path.join(this.ctx.cfg.nativeDir, CONSOLE_HELPER),
      },
      handlers,
    );
  }

  logs(id: string, opts: { follow: boolean; tail?: number }, onData: (chunk: string) => void): LogStream {
    return streamLog(hostNames(this.ctx.cfg, id).logFile, opts, onData);
  }

  appendEvent(id: string, message: string): Promise<void> {
    return appendEvent(hostNames(this.ctx.cfg, id).logFile, message, logLimits(this.ctx.cfg)).catch(
      () => undefined,
    );
  }

  listImages(): Promise<ImageInfo[]> {
    return this.ctx.images.list();
  }

  async importImage(path: string, ref: string | undefined, progress: ProgressFn): Promise<ImageInfo> {
    const info = await this.ctx.images.importOci(path, ref, progress);
    await this.afterImageAdded(info.ref);
    return info;
  }

  /** Keeps the store under its cap (LRU); call after every pull or import. Never fails the caller. */
  async afterImageAdded(ref: string): Promise<void> {
    await evictImages(this.ctx.images, [ref]).catch(() => undefined);
  }

  ensureBaseImage(opts: { mirror?: string }, progress: ProgressFn): Promise<ImageInfo> {
    return this.ctx.images.ensureBase({ mirror: opts.mirror ?? this.ctx.cfg.mirror }, progress);
  }

  hasImage(ref: string): Promise<boolean> {
    return this.ctx.images.has(ref);
  }

  pullImage(ref: string, progress: ProgressFn, opts: PullOptions = {}): Promise<ImageInfo> {
    return pullFromRegistry(this.ctx.images, ref, progress, {
      policy: registryPolicy(this.ctx.cfg),
      ...(opts.credential ? { credential: opts.credential } : {}),
    });
  }

  removeImage(ref: string): Promise<string[]> {
    return removeImage(this.ctx.images, ref);
  }

  pruneImages(opts: { keep?: string[] } = {}): Promise<{ removed: string[]; freedBytes: number }> {
    return pruneImages(this.ctx.images, opts.keep);
  }

  fetchFeature(req: FeatureFetchRequest, progress: ProgressFn): Promise<FetchedFeature> {
    return fetchFeature(this.ctx, req, progress);
  }

  async buildImage(req: BuildImageRequest, progress: ProgressFn): Promise<BuiltImage> {
    const built = await buildImage(this.ctx, req, progress);
    if (!built.cached) await this.afterImageAdded(built.ref);
    return built;
  }

  imageLabels(ref: string): Promise<Record<string, string>> {
    return imageLabels(this.ctx, ref);
  }

  saveTemplate(envId: string, key: string): Promise<SavedTemplate> {
    return this.#lock.run(envId, () => saveEnvTemplate(this.ctx, envId, key));
  }

  removeTemplate(key: string): Promise<void> {
    return removeDiskTemplate(this.ctx.cfg, key);
  }

  setResources(spec: RunnerEnvSpec): Promise<EnvObserved> {
    // Under the id's lock: a resize racing a stop or start would write limits to a group that
    // is being removed, or be overwritten by the bundle of the start.
    return this.#lock.run(spec.id, async () => {
      await resizeEnv(this.ctx, spec);
      return observeEnv(this.ctx, spec.id);
    });
  }

  stats(id: string): Promise<EnvStats> {
    return envStats(this.ctx, this.#cpu, id);
  }

  async dnsStats(): Promise<DnsStats> {
    return this.ctx.resolver?.stats() ?? notYet("dns stats");
  }

  dial(id: string, port: number, host?: string): Promise<Duplex> {
    return dialEnv(this.ctx, id, port, host);
  }

  listPorts(id: string): Promise<ListeningPort[]> {
    return listEnvPorts(this.ctx, id);
  }

  /** Stops the resolver; environments keep running. */
  async close(): Promise<void> {
    this.ctx.usage?.stop();
    await this.ctx.governor?.stop();
    await this.ctx.resolver?.close();
    // Like the resolver, lxcfs outlives the daemon while environments use it.
    if (this.ctx.lxcfs && !(await anyEnvironmentRuns(this.ctx.cfg))) await this.ctx.lxcfs.stop();
  }
}
