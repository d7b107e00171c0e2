// Everything the engine's steps need, built once by createRunner().
import type { RuntimeName } from "@warren/protocol";
import type { CgroupDriver } from "../cgroups/types.ts";
import type { RunnerConfig } from "../host/config.ts";
import type { HostUsage } from "../metrics/host-usage.ts";
import type { Runtime } from "../runtime/types.ts";
import type { ImageStore } from "../storage/image-store.ts";

export interface EngineContext {
  cfg: RunnerConfig;
  runtimes: Map<RuntimeName, Runtime>;
  cgroups: CgroupDriver;
  images: ImageStore;
  idRange: { start: number; size: number };
  /** Environment names by address, for the resolver's own-name answers. */
  ownNames?: import("./dns.ts").OwnNames;
  resolver?: import("./dns.ts").RunnerResolver;
  /** The host's live usage for info(); absent in tests that build an engine by hand. */
  usage?: HostUsage;
  /** The lxcfs whose files environments see as their /proc views; absent when turned off. */
  lxcfs?: import("../host/lxcfs.ts").Lxcfs;
  /** This state root's host id (host/identity.ts). */
  hostId?: string;
  /** The CPU governor; absent when it is switched off (WARREN_GOVERNOR=off) or in hand-built engines. */
  governor?: import("../governor/loop.ts").CpuGovernor;
}
