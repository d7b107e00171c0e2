// Builds the in-process runner for this host: probes runtimes and cgroups, reads the id range.
import { readFileSync } from "node:fs";
import { chmod, mkdir } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { RUNTIMES, type RuntimeName } from "@warren/protocol";
import { cgroupDriver } from "../cgroups/detect.ts";
import { protectRunnerMemory, RUNNER_MEMORY_MIN_BYTES } from "../cgroups/v2-memory-groups.ts";
import { startCpuGovernor } from "../governor/runner-governor.ts";
import { defaultConfig, type RunnerConfig } from "../host/config.ts";
import { hostIdOf } from "../host/identity.ts";
import { readWarrenRange } from "../host/idrange.ts";
import { Lxcfs } from "../host/lxcfs.ts";
import { hostNames } from "../host/names.ts";
import { startLogRotation } from "../logs/log-rotator.ts";
import { startOomWatch } from "../logs/oom-watch.ts";
import { HostUsage } from "../metrics/host-usage.ts";
import { ensureHostNetwork } from "../network/index.ts";
import { runtimeFor } from "../runtime/index.ts";
import type { Runtime } from "../runtime/types.ts";
import { DiskGuard } from "../storage/disk-guard.ts";
import { ImageStore } from "../storage/image-store.ts";
import { envIdRange } from "../storage/image-unpack-sandbox.ts";
import { OwnNames, startResolver } from "./dns.ts";
import { Engine } from "./engine.ts";

export async function createRunner(overrides: Partial<RunnerConfig> = {}): Promise<Engine> {
  const cfg = defaultConfig(overrides);
  // 0711: environments' root uids must traverse to their rootfs; nothing here is listable.
  await mkdir(path.join(cfg.root, "envs"), { recursive: true, mode: 0o711 });
  await chmod(cfg.root, 0o711);
  await chmod(path.join(cfg.root, "envs"), 0o711);
  await mkdir(cfg.runDir, { recursive: true, mode: 0o700 });
  // Start-up is on the path of every daemon (re)start, so independent probes run side by side:
  // each runtime's `--version`, and the resolver process (a Node start) next to the rest.
  const probed = Promise.all(
    RUNTIMES.map(async (name) => {
      const rt = runtimeFor(name, cfg);
      return (await rt.available()) ? ([name, rt] as const) : undefined;
    }),
  );
  const nc = await ensureHostNetwork(cfg);
  const ownNames = new OwnNames(nc);
  const resolverStarting = startResolver(cfg, nc, ownNames);
  // Settled at once below; this only keeps an early failure from being reported as unhandled.
  resolverStarting.catch(() => {});
  const runtimes = new Map<RuntimeName, Runtime>();
  for (const entry of await probed) if (entry) runtimes.set(entry[0], entry[1]);
  const fullRange = cfg.idRange ?? (await readWarrenRange());
  // The range's last block is the image unpacker's; environments never get those ids.
  const idRange = envIdRange(fullRange);
  const images = new ImageStore({ ...cfg, idRange: fullRange });
  await images.cleanupStale?.();
  // Init's own output never passes through Warren, so its logs are bounded by a periodic check.
  startLogRotation(cfg, (id) => hostNames(cfg, id).logFile);
  const cgroups = cgroupDriver();
  // On v2 the runner's own memory is protected from reclaim (best effort; v1 has no memory.min).
  if (cgroups.mode === "v2") void protectRunnerMemory("/sys/fs/cgroup", RUNNER_MEMORY_MIN_BYTES);
  // OOM kills happen in the kernel with no Warren code in the path: a periodic check logs them.
  startOomWatch(cfg, cgroups, (id) => hostNames(cfg, id));
  // Disks are overcommitted: well before the host fills, the largest writer is frozen (not killed).
  if (process.env["WARREN_DISK_GUARD"] !== "off") new DiskGuard(cfg, cgroups).start();
  const resolver = await resolverStarting;
  const hostId = hostIdOf(cfg.root);
  const usage = new HostUsage({ cpus: os.availableParallelism() }).start();
  // Bursts onto idle cores and fair shares between busy neighbours; environments keep their caps
  // when the runner is down, so nothing depends on it running.
  const governor = startCpuGovernor({
    cfg,
    cgroups,
    hostCores: os.availableParallelism(),
    readProcStat: () => readFileSync("/proc/stat", "utf8"),
  });
  // Started (or adopted) by the first environment start, not here: a runner without
  // environments runs no lxcfs.
  const lxcfs = cfg.procViews === false ? undefined : new Lxcfs(cfg.runDir);
  return new Engine({
    cfg,
    runtimes,
    cgroups,
    images,
    idRange,
    ownNames,
    resolver,
    usage,
    hostId,
    governor,
    ...(lxcfs ? { lxcfs } : {}),
  });
}
