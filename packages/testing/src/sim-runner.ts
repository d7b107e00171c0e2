// A simulated runner host for fleet benchmarks and the autoscaler's tests: it speaks the real runner
// protocol (pass it to connectRunner) but runs nothing. ensureRunning is acknowledged at once and
// timestamped; info() reports a configured capacity and a live usage computed from the environments
// it holds (a usage model: steady by default, bursty when the caller supplies one). Much lighter
// than FakeRunner (no call log, no logs, no exec), so thousands fit in one process.
import { randomBytes } from "node:crypto";
import type {
  DnsStats,
  EnvObserved,
  EnvStats,
  ImageInfo,
  LogStream,
  RunnerApi,
  RunnerEnvSpec,
  RunnerInfo,
  RunnerUsage,
  RuntimeName,
} from "@warren/protocol";
import { DEFAULT_IMAGE, WarrenError } from "@warren/protocol";

const GiB = 1024 ** 3;
const ID_BLOCK = 65536;

/** One environment the simulated host holds. */
export interface SimEnv {
  spec: RunnerEnvSpec;
  state: "running" | "stopped";
  /** Wall-clock ms (epoch) of its first ensureRunning: the placement's acknowledgement. */
  ackedAtMs: number;
}

/** What one running environment uses at `nowMs`; memory is its working set. */
export type SimUsageModel = (env: SimEnv, nowMs: number) => { cpuCores: number; memoryBytes: number };

/** Default usage: an idle developer environment (an editor and a language server). */
export const steadyUsage: SimUsageModel = (env) => ({
  cpuCores: Math.min(0.1, env.spec.resources.cpus),
  memoryBytes: Math.floor(env.spec.resources.memoryBytes * 0.3),
});

export interface SimRunnerOptions {
  name: string;
  labels?: Record<string, string>;
  /** Kept for the runner's life, as a real runner keeps it in its state root (8–64 of [a-z0-9]). */
  hostId?: string;
  cpus?: number;
  memoryBytes?: number;
  diskBytes?: number;
  /** Environment slots (65,536-id blocks) the id range holds. */
  slots?: number;
  runtimes?: RuntimeName[];
  images?: string[];
  usage?: SimUsageModel;
  /** Working set of the host itself (kernel, runner), counted in its usage. */
  hostOverheadBytes?: number;
  /** Called once per environment, at its first ensureRunning. */
  onAck?: (envId: string, atMs: number) => void;
  /** Epoch ms with sub-ms precision; injectable for tests. */
  now?: () => number;
}

/** CPU usage is smoothed like the real runner's host usage: an EWMA with a ~1 minute time constant. */
const CPU_EWMA_TAU_MS = 60_000;

const wallClock = () => performance.timeOrigin + performance.now();

export class SimRunner implements RunnerApi {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly hostId: string;
  cpus: number;
  memoryBytes: number;
  diskBytes: number;
  slots: number;
  runtimes: RuntimeName[];
  hostOverheadBytes: number;
  /** Set to make the host say it takes no new environments (as a real one does under pressure). */
  unschedulable: string | undefined;
  readonly envs = new Map<string, SimEnv>();
  readonly images = new Map<string, ImageInfo>();
  #usage: SimUsageModel;
  #onAck: ((envId: string, atMs: number) => void) | undefined;
  #now: () => number;
  #cpuEwma = 0;
  #cpuSampledAt: number | undefined;

  constructor(o: SimRunnerOptions) {
    this.name = o.name;
    this.labels = o.labels ?? {};
    this.hostId = o.hostId ?? randomBytes(16).toString("hex");
    this.cpus = o.cpus ?? 16;
    this.memoryBytes = o.memoryBytes ?? 64 * GiB;
    this.diskBytes = o.diskBytes ?? 2048 * GiB;
    this.slots = o.slots ?? 64;
    this.runtimes = o.runtimes ?? ["runc", "crun"];
    this.hostOverheadBytes = o.hostOverheadBytes ?? GiB;
    this.#usage = o.usage ?? steadyUsage;
    this.#onAck = o.onAck;
    this.#now = o.now ?? wallClock;
    for (const ref of o.images ?? [DEFAULT_IMAGE]) this.#addImage(ref);
  }

  /** Live usage now: the host's overhead plus what each running environment uses. */
  usageNow(): RunnerUsage {
    const now = this.#now();
    let cpu = 0;
    let memory = this.hostOverheadBytes;
    for (const env of this.envs.values()) {
      if (env.state !== "running") continue;
      const u = this.#usage(env, now);
      cpu += u.cpuCores;
      memory += u.memoryBytes;
    }
    // The first sample seeds the average; later ones move it by the elapsed fraction of tau.
    if (this.#cpuSampledAt === undefined) this.#cpuEwma = cpu;
    else
      this.#cpuEwma += (1 - Math.exp(-(now - this.#cpuSampledAt) / CPU_EWMA_TAU_MS)) * (cpu - this.#cpuEwma);
    this.#cpuSampledAt = now;
    const workingSet = Math.min(memory, this.memoryBytes);
    return {
      cpuEwmaCores: Math.min(this.cpus, this.#cpuEwma),
      memoryWorkingSetBytes: workingSet,
      memoryAvailableBytes: this.memoryBytes - workingSet,
    };
  }

  async info(): Promise<RunnerInfo> {
    let diskUsed = 0;
    for (const env of this.envs.values()) diskUsed += env.spec.resources.diskBytes;
    return {
      id: this.name,
      hostname: this.name,
      name: this.name,
      labels: { ...this.labels },
      hostId: this.hostId,
      runtimes: [...this.runtimes],
      cpus: this.cpus,
      memoryBytes: this.memoryBytes,
      diskFreeBytes: Math.max(0, this.diskBytes - diskUsed),
      cgroupMode: "v2",
      idRange: { start: 100000, size: ID_BLOCK * this.slots },
      usage: this.usageNow(),
      ...(this.unschedulable ? { unschedulable: this.unschedulable } : {}),
    };
  }

  async ensureRunning(spec: RunnerEnvSpec): Promise<EnvObserved> {
    const cur = this.envs.get(spec.id);
    if (cur) {
      cur.spec = spec;
      cur.state = "running";
    } else {
      const ackedAtMs = this.#now();
      this.envs.set(spec.id, { spec, state: "running", ackedAtMs });
      this.#onAck?.(spec.id, ackedAtMs);
    }
    return this.observe(spec.id);
  }

  async ensureStopped(spec: RunnerEnvSpec): Promise<EnvObserved> {
    const cur = this.envs.get(spec.id);
    if (cur) cur.state = "stopped";
    return this.observe(spec.id);
  }

  async remove(id: string): Promise<void> {
    this.envs.delete(id);
  }

  async observe(id: string): Promise<EnvObserved> {
    const cur = this.envs.get(id);
    if (!cur) return { id, state: "absent" };
    const o: EnvObserved = {
      id,
      state: cur.state,
      runtime: cur.spec.runtime,
      resources: cur.spec.resources,
      workspaceDirty: cur.state === "running",
    };
    if (cur.state === "running") {
      o.pid = 1000 + cur.spec.slot;
      o.uidRange = { start: 100000 + cur.spec.slot * ID_BLOCK, size: ID_BLOCK };
      o.psi = { cpu: 0, memory: 0, io: 0 };
    }
    return o;
  }

  async list(): Promise<EnvObserved[]> {
    return Promise.all([...this.envs.keys()].map((id) => this.observe(id)));
  }

  async sweep(keep: Set<string>): Promise<string[]> {
    const swept = [...this.envs.keys()].filter((id) => !keep.has(id));
    for (const id of swept) this.envs.delete(id);
    return swept;
  }

  async setResources(spec: RunnerEnvSpec): Promise<EnvObserved> {
    const cur = this.envs.get(spec.id);
    if (!cur) throw new WarrenError("ENV_NOT_RUNNING", `environment ${spec.id} has nothing on this host yet`);
    cur.spec = { ...cur.spec, resources: { ...spec.resources } };
    return this.observe(spec.id);
  }

  async appendEvent(): Promise<void> {}

  async stats(id: string): Promise<EnvStats> {
    const cur = this.envs.get(id);
    if (cur?.state !== "running") throw new WarrenError("ENV_NOT_RUNNING", "the environment is not running");
    const u = this.#usage(cur, this.#now());
    const r = cur.spec.resources;
    return {
      id,
      name: cur.spec.name,
      cpuCores: u.cpuCores,
      memoryWorkingSetBytes: u.memoryBytes,
      memoryLimitBytes: r.memoryBytes,
      pids: 1,
      pidsLimit: r.pids,
      diskUsedBytes: 0,
      diskQuotaBytes: r.diskBytes,
      psi: { cpu: 0, memory: 0, io: 0 },
      oomKills: 0,
      at: new Date(this.#now()).toISOString(),
    };
  }

  async dnsStats(): Promise<DnsStats> {
    return {
      hits: 0,
      misses: 0,
      negativeHits: 0,
      upstreamQueries: 0,
      upstreamErrors: 0,
      tcpRetries: 0,
      cacheEntries: 0,
      upstreamLatencyMs: { p50: 0, p99: 0, mean: 0 },
      upstreams: [],
    };
  }

  #addImage(ref: string): ImageInfo {
    const info: ImageInfo = {
      ref,
      digest: `sha256:${Buffer.from(ref).toString("hex").padEnd(64, "0").slice(0, 64)}`,
      layers: [],
      sizeBytes: 1,
      createdAt: "2024-01-01T00:00:00.000Z",
    };
    this.images.set(ref, info);
    return info;
  }

  async listImages(): Promise<ImageInfo[]> {
    return [...this.images.values()];
  }

  async hasImage(ref: string): Promise<boolean> {
    return this.images.has(ref);
  }

  /** A simulated pull: the image is there at once. */
  async pullImage(ref: string): Promise<ImageInfo> {
    return this.images.get(ref) ?? this.#addImage(ref);
  }

  async importImage(_path: string, ref: string | undefined): Promise<ImageInfo> {
    if (!ref) throw new WarrenError("INVALID_ARGUMENT", "the simulated runner imports only named images");
    return this.#addImage(ref);
  }

  async ensureBaseImage(): Promise<ImageInfo> {
    return this.images.get(DEFAULT_IMAGE) ?? this.#addImage(DEFAULT_IMAGE);
  }

  async removeImage(ref: string): Promise<string[]> {
    if (!this.images.has(ref)) throw new WarrenError("IMAGE_NOT_FOUND", `image ${ref} is not on this runner`);
    this.images.delete(ref);
    return [ref];
  }

  async pruneImages(): Promise<{ removed: string[]; freedBytes: number }> {
    return { removed: [], freedBytes: 0 };
  }

  // What a simulated host cannot do: no process runs, so nothing executes, listens or builds.
  #cannot(what: string): never {
    throw new WarrenError(
      "INVALID_ARGUMENT",
      `the simulated runner ${this.name} cannot ${what}: it runs no processes`,
    );
  }

  async exec(): Promise<never> {
    this.#cannot("exec");
  }

  logs(_id: string, _opts: unknown, _onData: (chunk: string) => void): LogStream {
    return { done: Promise.resolve(), close: () => {} };
  }

  async dial(): Promise<never> {
    this.#cannot("dial into an environment");
  }

  async listPorts(): Promise<never> {
    this.#cannot("list ports");
  }

  async saveTemplate(): Promise<never> {
    this.#cannot("save disk templates");
  }

  async removeTemplate(): Promise<void> {}

  async fetchFeature(): Promise<never> {
    this.#cannot("fetch Features");
  }

  async buildImage(): Promise<never> {
    this.#cannot("build images");
  }

  async imageLabels(ref: string): Promise<Record<string, string>> {
    if (!this.images.has(ref)) throw new WarrenError("IMAGE_NOT_FOUND", `image ${ref} is not on this runner`);
    return {};
  }
}
