// A fake runner at the protocol boundary: in-memory environments and images, configurable
// failures, a disk-free figure and the runtimes it claims to support. The only fake allowed.
import { type Duplex, duplexPair } from "node:stream";
import type {
  BuildImageRequest,
  BuiltImage,
  EnvObserved,
  ExecHandlers,
  ExecRequest,
  ExecSession,
  FeatureFetchRequest,
  FetchedFeature,
  ImageInfo,
  ListeningPort,
  LogStream,
  ProgressFn,
  RunnerApi,
  RunnerEnvSpec,
  RunnerInfo,
  RuntimeName,
  SavedTemplate,
} from "@warren/protocol";
import { DEFAULT_IMAGE, type DnsStats, type EnvStats, WarrenError } from "@warren/protocol";
import { startFakeCommand } from "./fake-command.ts";
import { FakeBuild } from "./fake-runner-build.ts";
import { removeFakeImage, saveFakeTemplate } from "./fake-runner-store.ts";

type Method = keyof RunnerApi;

export interface FakeRunnerOptions {
  runtimes?: RuntimeName[];
  diskFreeBytes?: number;
  images?: string[];
}

export class FakeRunner implements RunnerApi {
  runtimes: RuntimeName[];
  diskFreeBytes: number;
  readonly images = new Map<string, ImageInfo>();
  /** Environment slots the runner's id range holds. */
  slots = 64;
  /** Cores and memory reported: large, so only slots, disk and quotas bound a test that does not set them. */
  cpus = 256;
  memoryBytes = 1024 ** 4;
  /** Fleet name and labels (RunnerInfo.name/labels); unset reports none. */
  name: string | undefined;
  labels: Record<string, string> | undefined;
  readonly envs = new Map<string, { state: "running" | "stopped"; spec: RunnerEnvSpec; pid: number }>();
  readonly events = new Map<string, string[]>();
  readonly logLines = new Map<string, string>();
  /** Disk templates saved (saveTemplate): key → the image and environment they came from. */
  readonly templates = new Map<string, { image: string; envId: string }>();
  readonly calls: { method: Method; args: unknown[] }[] = [];
  readonly sweeps: Set<string>[] = [];
  /** Signals delivered to exec'd commands, in order. */
  readonly execSignals: string[] = [];
  /** How often an exec's output was paused (flow control). */
  execPauses = 0;
  /** Bytes `flood` has written so far. */
  execBytesOut = 0;
  /** Host objects of ids the store may not know (to exercise sweep). */
  readonly leftovers = new Set<string>();
  /** Memory each environment "uses": a live resize below it is refused, as the v1 kernel does. */
  memoryInUseBytes = 100 * 1024 ** 2;
  /** When true, pruneImages removes unused images (as the real one does past its cache cap). */
  pruneEvicts = false;
  /** Builds, Feature fetches and image labels (fake-runner-build.ts). */
  readonly build = new FakeBuild({
    images: this.images,
    isRunning: (id) => this.envs.get(id)?.state === "running",
    addImage: (ref) => this.addImage(ref),
  });
  #failures = new Map<Method, Error[]>();
  #nextPid = 1000;

  constructor(opts: FakeRunnerOptions = {}) {
    this.runtimes = opts.runtimes ?? ["runc", "crun"];
    this.diskFreeBytes = opts.diskFreeBytes ?? 1024 ** 4;
    for (const ref of opts.images ?? [DEFAULT_IMAGE]) this.addImage(ref);
  }

  /** The next `times` calls of `method` throw `err`. */
  failNext(method: Method, err: Error, times = 1): void {
    const list = this.#failures.get(method) ?? [];
    for (let i = 0; i < times; i++) list.push(err);
    this.#failures.set(method, list);
  }

  callsOf(method: Method): unknown[][] {
    return this.calls.filter((c) => c.method === method).map((c) => c.args);
  }

  addImage(ref: string): ImageInfo {
    const info: ImageInfo = {
      ref,
      digest: `sha256:${ref.length}`,
      layers: [],
      sizeBytes: 1,
      createdAt: "2024-01-01T00:00:00.000Z",
    };
    this.images.set(ref, info);
    return info;
  }

  #enter(method: Method, args: unknown[]): void {
    this.calls.push({ method, args });
    const err = this.#failures.get(method)?.shift();
    if (err) throw err;
  }

  async info(): Promise<RunnerInfo> {
    this.#enter("info", []);
    return {
      id: "fake",
      hostname: "fake-host",
      runtimes: [...this.runtimes],
      cpus: this.cpus,
      memoryBytes: this.memoryBytes,
      diskFreeBytes: this.diskFreeBytes,
      cgroupMode: "hybrid",
      idRange: { start: 100000, size: 65536 * this.slots },
      ...(this.name !== undefined ? { name: this.name } : {}),
      ...(this.labels !== undefined ? { labels: { ...this.labels } } : {}),
    };
  }

  async ensureRunning(spec: RunnerEnvSpec): Promise<EnvObserved> {
    this.#enter("ensureRunning", [spec]);
    const cur = this.envs.get(spec.id);
    if (!cur && spec.template && !this.templates.has(spec.template))
      throw new WarrenError("PREBUILD_NOT_FOUND", `disk template ${spec.template} is not on this runner`);
    if (cur?.state !== "running") {
      const pid = this.#nextPid++;
      this.envs.set(spec.id, { state: "running", spec, pid });
      // As the real runner does: a start it makes is in the environment's log, with init's pid.
      this.#hostLog(spec.id, `started (${spec.runtime}, init pid ${pid})`);
    }
    return this.observe(spec.id);
  }

  async ensureStopped(spec: RunnerEnvSpec, graceMs: number): Promise<EnvObserved> {
    this.#enter("ensureStopped", [spec, graceMs]);
    const cur = this.envs.get(spec.id);
    if (cur?.state === "running") this.#hostLog(spec.id, "stopped");
    if (cur) cur.state = "stopped";
    return this.observe(spec.id);
  }

  async remove(id: string): Promise<void> {
    this.#enter("remove", [id]);
    this.envs.delete(id);
    this.leftovers.delete(id);
  }

  async observe(id: string): Promise<EnvObserved> {
    this.#enter("observe", [id]);
    const cur = this.envs.get(id);
    if (!cur) return { id, state: "absent" };
    const o: EnvObserved = { id, state: cur.state, runtime: cur.spec.runtime, resources: cur.spec.resources };
    if (cur.state === "running") {
      o.pid = cur.pid;
      o.uidRange = { start: 100000 + cur.spec.slot * 65536, size: 65536 };
      o.cgroupPaths = { memory: `/sys/fs/cgroup/memory/warren/warren-${id}` };
      o.psi = { cpu: 0.1, memory: 0, io: 0 };
    }
    return o;
  }

  async list(): Promise<EnvObserved[]> {
    this.#enter("list", []);
    return Promise.all([...this.envs.keys()].map((id) => this.observe(id)));
  }

  async sweep(keep: Set<string>): Promise<string[]> {
    this.#enter("sweep", [keep]);
    this.sweeps.push(new Set(keep));
    const swept: string[] = [];
    for (const id of [...this.envs.keys(), ...this.leftovers]) {
      if (keep.has(id)) continue;
      this.envs.delete(id);
      this.leftovers.delete(id);
      swept.push(id);
    }
    return swept;
  }

  /**
   * Commands understood: `exit N`, `echo ARGS...` (stdout), `warn ARGS...` (stderr),
   * `cat` (echoes stdin until eof), `sleep` (runs until a signal: exits 128+signo).
   */
  async exec(id: string, req: ExecRequest, h: ExecHandlers): Promise<ExecSession> {
    this.#enter("exec", [id, req]);
    if (this.envs.get(id)?.state !== "running") {
      throw new WarrenError(
        "ENV_NOT_RUNNING",
        "the environment is not running; start it with `warren start NAME`",
      );
    }
    return startFakeCommand(req, h, this);
  }

  logs(id: string, opts: { follow: boolean; tail?: number }, onData: (chunk: string) => void): LogStream {
    this.#enter("logs", [id, opts]);
    let lines = (this.logLines.get(id) ?? "").split("\n").filter(Boolean);
    // As the real log: tail 0 is nothing of the past, and a follower gets every line written later.
    if (opts.tail !== undefined) lines = opts.tail > 0 ? lines.slice(-opts.tail) : [];
    if (lines.length > 0) onData(`${lines.join("\n")}\n`);
    let close!: () => void;
    const done = new Promise<void>((resolve) => {
      close = resolve;
    });
    if (!opts.follow) close();
    else {
      const followers = this.#logFollowers.get(id) ?? new Set();
      this.#logFollowers.set(id, followers);
      followers.add(onData);
      void done.then(() => followers.delete(onData));
    }
    return { done, close: () => close() };
  }

  async appendEvent(id: string, message: string): Promise<void> {
    this.#enter("appendEvent", [id, message]);
    const list = this.events.get(id) ?? [];
    list.push(message);
    this.events.set(id, list);
    this.#hostLog(id, message);
  }

  readonly #logFollowers = new Map<string, Set<(chunk: string) => void>>();

  #hostLog(id: string, message: string): void {
    const line = `[warren] ${message}\n`;
    this.logLines.set(id, `${this.logLines.get(id) ?? ""}${line}`);
    for (const follow of this.#logFollowers.get(id) ?? []) follow(line);
  }

  async listImages(): Promise<ImageInfo[]> {
    this.#enter("listImages", []);
    return [...this.images.values()];
  }

  async importImage(path: string, ref: string | undefined, progress: ProgressFn): Promise<ImageInfo> {
    this.#enter("importImage", [path, ref]);
    progress({ phase: "unpack", message: `unpacking ${path}`, current: 1, total: 2 });
    progress({ phase: "unpack", message: "done", current: 2, total: 2 });
    return this.addImage(ref ?? path.split("/").at(-1)!);
  }

  async ensureBaseImage(opts: { mirror?: string }, progress: ProgressFn): Promise<ImageInfo> {
    this.#enter("ensureBaseImage", [opts]);
    const have = this.images.get(DEFAULT_IMAGE);
    if (have) return have;
    progress({ phase: "bootstrap", message: `mmdebstrap from ${opts.mirror ?? "default mirror"}` });
    return this.addImage(DEFAULT_IMAGE);
  }

  async hasImage(ref: string): Promise<boolean> {
    this.#enter("hasImage", [ref]);
    return this.images.has(ref);
  }

  // Features of later issues: the fake records the call and refuses, like an old runner would.
  async pullImage(ref: string): Promise<ImageInfo> {
    this.#enter("pullImage", [ref]);
    throw new WarrenError("INVALID_ARGUMENT", "image pull is not available on the fake runner");
  }

  async fetchFeature(req: FeatureFetchRequest, progress: ProgressFn): Promise<FetchedFeature> {
    this.#enter("fetchFeature", [req]);
    return this.build.fetchFeature(req, progress);
  }

  async buildImage(req: BuildImageRequest, progress: ProgressFn): Promise<BuiltImage> {
    this.#enter("buildImage", [req]);
    return this.build.buildImage(req, progress);
  }

  async imageLabels(ref: string): Promise<Record<string, string>> {
    this.#enter("imageLabels", [ref]);
    return this.build.imageLabels(ref);
  }

  async saveTemplate(envId: string, key: string): Promise<SavedTemplate> {
    this.#enter("saveTemplate", [envId, key]);
    return saveFakeTemplate(this.templates, this.envs.get(envId), envId, key);
  }

  async removeTemplate(key: string): Promise<void> {
    this.#enter("removeTemplate", [key]);
    this.templates.delete(key);
  }

  async removeImage(ref: string): Promise<string[]> {
    this.#enter("removeImage", [ref]);
    // As the runner's image store: an unknown image and one an environment (even stopped) uses are refused.
    return removeFakeImage(this.images, this.envs, ref);
  }

  /** With pruneEvicts: removes every image but the base, `keep` and those environments use (no cap here). */
  async pruneImages(opts?: { keep?: string[] }): Promise<{ removed: string[]; freedBytes: number }> {
    this.#enter("pruneImages", opts ? [opts] : []);
    if (!this.pruneEvicts) return { removed: [], freedBytes: 0 };
    const keep = new Set([DEFAULT_IMAGE, ...(opts?.keep ?? [])]);
    for (const e of this.envs.values()) keep.add(e.spec.image);
    const removed = [...this.images.keys()].filter((r) => !keep.has(r));
    for (const r of removed) this.images.delete(r);
    return { removed, freedBytes: removed.length };
  }

  async setResources(spec: RunnerEnvSpec): Promise<EnvObserved> {
    this.#enter("setResources", [spec]);
    const cur = this.envs.get(spec.id);
    if (!cur) throw new WarrenError("ENV_NOT_RUNNING", `environment ${spec.id} has nothing on this host yet`);
    if (cur.state === "running" && spec.resources.memoryBytes < this.memoryInUseBytes) {
      throw new WarrenError("INVALID_ARGUMENT", "cannot lower the memory limit below what it uses (fake)");
    }
    cur.spec = { ...cur.spec, resources: { ...spec.resources } };
    return this.observe(spec.id);
  }

  async stats(id: string): Promise<EnvStats> {
    this.#enter("stats", [id]);
    const cur = this.envs.get(id);
    if (cur?.state !== "running") throw new WarrenError("ENV_NOT_RUNNING", "the environment is not running");
    const r = cur.spec.resources;
    return {
      id,
      name: cur.spec.name,
      cpuCores: 0.25,
      memoryWorkingSetBytes: this.memoryInUseBytes,
      memoryLimitBytes: r.memoryBytes,
      pids: 3,
      pidsLimit: r.pids,
      diskUsedBytes: 1024 ** 2,
      diskQuotaBytes: r.diskBytes,
      psi: { cpu: 0, memory: 0, io: 0 },
      oomKills: 0,
      at: "2024-01-01T00:00:00.000Z",
      cpuSecondsTotal: 12.5,
    };
  }

  async dnsStats(): Promise<DnsStats> {
    this.#enter("dnsStats", []);
    return structuredClone(FAKE_DNS_STATS);
  }

  /**
   * Servers "inside" fake environments, keyed `${envId}:${port}`: dial hands each one the far end
   * of an in-memory duplex pair. A port with no listener is refused, as a real one would be.
   */
  readonly listeners = new Map<string, (socket: Duplex) => void>();

  async dial(id: string, port: number, host = "127.0.0.1"): Promise<Duplex> {
    this.#enter("dial", [id, port, host]);
    const cur = this.envs.get(id);
    if (cur?.state !== "running") throw new WarrenError("ENV_NOT_RUNNING", "the environment is not running");
    const serve = this.listeners.get(`${id}:${port}`);
    if (!serve || host !== "127.0.0.1") {
      throw new WarrenError("DIAL_FAILED", `nothing listens on ${host}:${port} inside ${cur.spec.name}`, {
        errno: "ECONNREFUSED",
        port,
        host,
      });
    }
    const [near, far] = duplexPair();
    serve(far);
    return near;
  }

  /**
   * Sockets listening "inside" fake environments, by environment id, as a test sets them; every
   * port of `listeners` also shows as listening on 127.0.0.1, as a real server started there would.
   */
  readonly ports = new Map<string, ListeningPort[]>();

  async listPorts(id: string): Promise<ListeningPort[]> {
    this.#enter("listPorts", [id]);
    const cur = this.envs.get(id);
    if (cur?.state !== "running") throw new WarrenError("ENV_NOT_RUNNING", "the environment is not running");
    const out = (this.ports.get(id) ?? []).map((p) => ({ ...p }));
    for (const key of this.listeners.keys()) {
      const [env, port] = key.split(":");
      if (env === id) out.push({ port: Number(port), address: "127.0.0.1", family: 4 });
    }
    return out.sort((a, b) => a.port - b.port || a.family - b.family);
  }
}

/** What the fake runner's dnsStats() returns, so tests can compare whole objects. */
export const FAKE_DNS_STATS: DnsStats = {
  hits: 120,
  misses: 30,
  negativeHits: 7,
  upstreamQueries: 31,
  upstreamErrors: 1,
  tcpRetries: 2,
  cacheEntries: 64,
  upstreamLatencyMs: { p50: 1.25, p99: 8.5, mean: 2.1 },
  upstreams: ["10.0.0.53:53"],
};
