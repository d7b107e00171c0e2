// Shared by the network host tests: a private prefix, subnet and runDir per test file, commands
// inside a netns, a counting TCP+UDP listener, a client, and stand-in hosts ("internet",
// "metadata") in namespaces the test makes and routes to from the host, never via eth0.
// `cleanup()` removes everything the fixture or Warren made, even after a failure.
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { defaultConfig, type RunnerConfig } from "../src/host/config.ts";
import { run } from "../src/host/run.ts";
import { ensureHostNetwork, type NetworkConfig, removeHostNetwork } from "../src/network/index.ts";

export const PY = "/usr/bin/python3";

// Prints "tcp <peer-ip>" per accepted connection and "udp <peer-ip>" per datagram.
const LISTENER = `
import socket, sys, selectors
host, port = sys.argv[1], int(sys.argv[2])
t = socket.socket(); t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); t.bind((host, port)); t.listen(64)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind((host, port))
sel = selectors.DefaultSelector(); sel.register(t, selectors.EVENT_READ); sel.register(u, selectors.EVENT_READ)
print("ready", flush=True)
while True:
    for key, _ in sel.select():
        if key.fileobj is t:
            c, a = t.accept(); print("tcp", a[0], flush=True); c.close()
        else:
            _, a = u.recvfrom(2048); print("udp", a[0], flush=True)
`;

// Tries TCP connect and UDP send; prints "tcp ok" / "tcp fail" and "udp sent".
const CLIENT = `
import socket, sys
host, port, proto = sys.argv[1], int(sys.argv[2]), sys.argv[3]
if proto == "tcp":
    s = socket.socket(); s.settimeout(0.7)
    try: s.connect((host, port)); print("tcp ok")
    except Exception as e: print("tcp fail", type(e).__name__)
else:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        for _ in range(3): s.sendto(b"x", (host, port))
        print("udp sent")
    except Exception as e: print("udp fail", type(e).__name__)
`;

export interface Listener {
  lines: string[];
  count(proto: "tcp" | "udp", from?: string): number;
  stop(): void;
}

export class NetFixture {
  readonly tag = randomBytes(3).toString("hex");
  readonly prefix = `wt${this.tag}`; // link <prefix>0, table <prefix>
  readonly third = 1 + (randomBytes(1)[0]! % 250);
  readonly subnet = `10.201.${this.third}.0/24`;
  readonly dir = mkdtempSync(path.join(os.tmpdir(), "warren-net-"));
  readonly cfg: RunnerConfig = defaultConfig({
    root: path.join(this.dir, "root"),
    runDir: path.join(this.dir, "run"),
    prefix: this.prefix,
  });
  nc!: NetworkConfig;
  private procs: ChildProcess[] = [];
  private undo: (() => Promise<unknown>)[] = [];

  async init(): Promise<NetworkConfig> {
    this.nc = await ensureHostNetwork(this.cfg, { subnet: this.subnet });
    return this.nc;
  }

  id(n: number): string {
    return `${this.tag}${String(n).padStart(6, "0")}`;
  }

  /** Runs a command inside a netns (by path) and returns its output; never throws on exit code. */
  async nsRun(ns: string | null, cmd: string, args: string[], timeoutMs = 5000) {
    const full = ns ? ["nsenter", `--net=${ns}`, cmd, ...args] : [cmd, ...args];
    return run(full[0]!, full.slice(1), { allowFail: true, timeoutMs });
  }

  async listen(ns: string | null, host: string, port: number): Promise<Listener> {
    const full = ns
      ? ["nsenter", `--net=${ns}`, PY, "-c", LISTENER, host, String(port)]
      : [PY, "-c", LISTENER, host, String(port)];
    const p = spawn(full[0]!, full.slice(1), { stdio: ["ignore", "pipe", "inherit"] });
    this.procs.push(p);
    const lines: string[] = [];
    let buf = "";
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`listener ${host}:${port} did not start`)), 5000);
      p.stdout!.on("data", (d: Buffer) => {
        buf += d.toString();
        const parts = buf.split("\n");
        buf = parts.pop()!;
        for (const l of parts) {
          if (l === "ready") {
            clearTimeout(t);
            resolve();
          } else lines.push(l);
        }
      });
      p.on("exit", (code) => reject(new Error(`listener ${host}:${port} exited ${code}`)));
    });
    return {
      lines,
      count: (proto, from) =>
        lines.filter((l) => l.startsWith(proto) && (!from || l.endsWith(` ${from}`))).length,
      stop: () => p.kill("SIGKILL"),
    };
  }

  async client(ns: string | null, host: string, port: number, proto: "tcp" | "udp"): Promise<string> {
    return (await this.nsRun(ns, PY, ["-c", CLIENT, host, String(port), proto])).stdout.trim();
  }

  async ping(ns: string | null, host: string): Promise<boolean> {
    return (await this.nsRun(ns, "ping", ["-n", "-c", "2", "-i", "0.2", "-W", "1", host])).code === 0;
  }

  /** nft in a netns (null: the host); `script` goes to `nft -f -`. */
  async nft(ns: string | null, script: string): Promise<void> {
    const full = ns ? ["nsenter", `--net=${ns}`, "nft", "-f", "-"] : ["nft", "-f", "-"];
    await run(full[0]!, full.slice(1), { input: script });
  }

  async counter(ns: string | null, family: string, table: string, name: string): Promise<number> {
    const args = ["-j", "list", "counter", family, table, name];
    const r = ns ? await run("nsenter", [`--net=${ns}`, "nft", ...args]) : await run("nft", args);
    const j = JSON.parse(r.stdout) as { nftables: { counter?: { packets: number } }[] };
    return j.nftables.find((o) => o.counter)?.counter?.packets ?? -1;
  }

  /**
   * A stand-in host in its own netns (`ip netns` name <prefix>-<name>), reached from the host by
   * a veth and /32 routes for `addrs`, never through eth0. The host end gets `hostIp`/30 so that
   * masqueraded traffic has a source address. Returns the netns path.
   */
  async standIn(name: string, n: number, addrs: string[]): Promise<string> {
    const ns = `${this.prefix}-${name}`;
    const link = `${this.prefix}${name[0]}`;
    const hostIp = `10.202.${this.third}.${4 * n + 1}`;
    const peerIp = `10.202.${this.third}.${4 * n + 2}`;
    this.undo.push(() => run("ip", ["netns", "del", ns], { allowFail: true }));
    this.undo.push(() => run("ip", ["link", "del", link], { allowFail: true }));
    for (const a of addrs) this.undo.push(() => run("ip", ["route", "del", `${a}/32`], { allowFail: true }));
    await run("ip", ["netns", "add", ns]);
    await run("ip", ["link", "add", link, "type", "veth", "peer", "name", "eth0", "netns", ns]);
    await run("ip", ["addr", "add", `${hostIp}/30`, "dev", link]);
    await run("ip", ["link", "set", link, "up"]);
    const inNs = (args: string[]) => run("ip", ["-n", ns, ...args]);
    await inNs(["link", "set", "lo", "up"]);
    await inNs(["link", "set", "eth0", "up"]);
    await inNs(["addr", "add", `${peerIp}/30`, "dev", "eth0"]);
    for (const a of addrs) await inNs(["addr", "add", `${a}/32`, "dev", "eth0"]);
    await inNs(["route", "add", "default", "via", hostIp]);
    for (const a of addrs) await run("ip", ["route", "replace", `${a}/32`, "via", peerIp, "dev", link]);
    return `/run/netns/${ns}`;
  }

  /** Registers an extra undo step (e.g. a test-owned nft table). */
  onCleanup(fn: () => Promise<unknown>): void {
    this.undo.push(fn);
  }

  async cleanup(): Promise<void> {
    for (const p of this.procs) if (p.exitCode === null) p.kill("SIGKILL");
    for (const fn of this.undo.reverse()) await fn().catch(() => {});
    await removeHostNetwork(this.cfg, { subnet: this.subnet }).catch((e) => console.error(e));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Host interface and route lines that mention a name or address (leak checks). */
export async function hostLeftovers(prefixes: string[]): Promise<string[]> {
  const links = (await run("ip", ["-o", "link"])).stdout.split("\n");
  const routes = (await run("ip", ["route"])).stdout.split("\n");
  return [...links, ...routes].filter((l) => prefixes.some((p) => l.includes(p)));
}
