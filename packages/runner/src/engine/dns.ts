// The runner's resolver, bound to the resolver address every environment can reach. It runs as
// its own process (dns/resolver-process.ts, supervised by dns/supervisor.ts) so that DNS keeps
// answering while the daemon restarts or crashes; the daemon adopts it again when it comes back.
// It answers an environment's own name from a table the engine keeps (address -> name) and
// pushes to the resolver, so queries never read handles from disk.
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import type { DnsStats } from "@warren/protocol";
import { hostUpstreams } from "../dns/index.ts";
import { type ResolverProcess, superviseResolver } from "../dns/supervisor.ts";
import type { RunnerConfig } from "../host/config.ts";
import { hostNames } from "../host/names.ts";
import { envAddress } from "../network/index.ts";
import type { NetworkConfig } from "../network/types.ts";
import { readHandle } from "../state/handle.ts";

export const DEFAULT_ZONE = "warren.internal";

/** The internal zone the resolver answers environments' own names under. */
export function dnsZone(): string {
  return process.env["WARREN_DNS_ZONE"] ?? DEFAULT_ZONE;
}
/** Debian's nobody/nogroup: the resolver needs no file or id of its own. */
const DEFAULT_DNS_ID = 65534;

export class OwnNames {
  readonly #byIp = new Map<string, string>();
  readonly #nc: NetworkConfig;
  #sink: Pick<ResolverProcess, "set" | "delete"> | undefined;
  constructor(nc: NetworkConfig) {
    this.#nc = nc;
  }
  set(slot: number, name: string): void {
    const ip = envAddress(this.#nc, slot);
    this.#byIp.set(ip, name);
    this.#sink?.set(ip, name);
  }
  delete(slot: number): void {
    const ip = envAddress(this.#nc, slot);
    this.#byIp.delete(ip);
    this.#sink?.delete(ip);
  }
  lookup(ip: string): { name: string; ip: string } | undefined {
    const name = this.#byIp.get(ip);
    return name ? { name, ip } : undefined;
  }
  entries(): [string, string][] {
    return [...this.#byIp];
  }
  /** Changes from now on also go to the resolver process. */
  attach(sink: Pick<ResolverProcess, "set" | "delete">): void {
    this.#sink = sink;
  }
  /** After a restart: every environment with a handle on this host. */
  async load(cfg: RunnerConfig): Promise<void> {
    const dir = path.join(cfg.root, "envs");
    for (const id of await readdir(dir).catch(() => [] as string[])) {
      const h = await readHandle(path.join(dir, id, "handle.json")).catch(() => null);
      if (h) this.set(h.spec.slot, h.spec.name);
    }
  }
}

/** The daemon's handle on the resolver process. */
export interface RunnerResolver {
  stats(): Promise<DnsStats>;
  pid(): number | undefined;
  /**
   * On the daemon's explicit shutdown: the resolver keeps serving while any environment on this
   * host runs (it still needs DNS, and the next daemon adopts the resolver), and stops otherwise.
   */
  close(): Promise<void>;
}

function idFromEnv(name: string): number {
  const v = process.env[name];
  if (v === undefined || v === "") return DEFAULT_DNS_ID;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n <= 0) {
    throw new Error(`${name} must be a non-root numeric id, got ${JSON.stringify(v)}`);
  }
  return n;
}

/**
 * Whether any environment on this host has a live process: stop removes an environment's cgroup,
 * so a non-empty cgroup.procs (v1 pids/memory or v2) means it runs. Read from the kernel rather
 * than runtime state files, which can outlive their containers.
 */
export async function anyEnvironmentRuns(cfg: RunnerConfig): Promise<boolean> {
  const bases = ["/sys/fs/cgroup", "/sys/fs/cgroup/pids", "/sys/fs/cgroup/memory", "/sys/fs/cgroup/unified"];
  for (const id of await readdir(path.join(cfg.root, "envs")).catch(() => [] as string[])) {
    const group = hostNames(cfg, id).cgroupPath;
    for (const base of bases) {
      const procs = await readFile(`${base}${group}/cgroup.procs`, "utf8").catch(() => "");
      if (procs.trim() !== "") return true;
    }
  }
  return false;
}

export async function startResolver(
  cfg: RunnerConfig,
  nc: NetworkConfig,
  names: OwnNames,
): Promise<RunnerResolver> {
  const fromEnv = process.env["WARREN_DNS_UPSTREAMS"]?.split(",").filter(Boolean);
  // Read here, not in the resolver: a changed resolv.conf then shows as a changed identity and
  // the daemon replaces the resolver it would otherwise adopt.
  const upstreams = fromEnv?.length ? fromEnv : hostUpstreams(await readFile("/etc/resolv.conf", "utf8"));
  await names.load(cfg);
  const proc = await superviseResolver({
    identity: {
      listen: [{ host: nc.resolverIp, port: Number(process.env["WARREN_DNS_PORT"] ?? 53) }],
      zone: dnsZone(),
      upstreams,
    },
    runDir: cfg.runDir,
    uid: idFromEnv("WARREN_DNS_UID"),
    gid: idFromEnv("WARREN_DNS_GID"),
    names: () => names.entries(),
    log: (msg, fields = {}) =>
      process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), msg, ...fields })}\n`),
  });
  names.attach(proc);
  return {
    stats: () => proc.stats(),
    pid: () => proc.pid(),
    close: async () => proc.close({ stop: !(await anyEnvironmentRuns(cfg)) }),
  };
}
