// The TCP ports listening inside a running environment, for `warren port ls` and the port proxy.
// Read by host code from kernel data only:
// - the sockets: /proc/<init>/net/tcp and tcp6, which the kernel renders for the network namespace
//   of <init> (not a file of the image, and never reached through /proc/<pid>/root);
// - the owning process: the socket inodes found by readlink of /proc/<pid>/fd/* for the processes
//   of the environment's cgroup, and that process's /proc/<pid>/comm. Bounded and best effort: an
//   environment with thousands of processes or descriptors gets its ports without names.
// A pid can die and be reused between reading its state and reading its files, so the init's
// network namespace is checked against the environment's own before and after the read.
import { readdir, readFile, readlink, stat } from "node:fs/promises";
import { endianness } from "node:os";
import { type ListeningPort, MAX_LISTENING_PORTS, WarrenError } from "@warren/protocol";
import { hostNames } from "../host/names.ts";
import { netnsPath, networkConfig } from "../network/addr.ts";
import { readHandle } from "../state/handle.ts";
import type { EngineContext } from "./context.ts";

/** TCP_LISTEN in the kernel's tcp_states.h, as /proc/net/tcp prints it. */
const LISTEN = "0A";
/** How many processes and descriptors the name lookup looks at, at most. */
const MAX_PROCS = 1024;
const MAX_READLINKS = 16_384;

export interface ProcNetEntry {
  port: number;
  address: string;
  family: 4 | 6;
  inode: string;
}

const notRunning = () =>
  new WarrenError("ENV_NOT_RUNNING", "the environment is not running; start it with `warren start NAME`");

export async function listEnvPorts(ctx: EngineContext, id: string): Promise<ListeningPort[]> {
  const names = hostNames(ctx.cfg, id);
  const handle = await readHandle(names.handleFile);
  const rt = handle ? ctx.runtimes.get(handle.spec.runtime) : undefined;
  const st = rt ? await rt.state(names.containerId) : null;
  if (!handle || st?.status !== "running" || !(st.pid > 0)) throw notRunning();
  const ns = await stat(netnsPath(networkConfig(ctx.cfg), id)).catch(() => undefined);
  if (!ns) throw notRunning();
  const inEnvNetns = async () => {
    const cur = await stat(`/proc/${st.pid}/ns/net`).catch(() => undefined);
    return cur !== undefined && cur.ino === ns.ino && cur.dev === ns.dev;
  };
  if (!(await inEnvNetns())) throw notRunning();
  const [v4, v6] = await Promise.all([
    readFile(`/proc/${st.pid}/net/tcp`, "utf8").catch(() => ""),
    readFile(`/proc/${st.pid}/net/tcp6`, "utf8").catch(() => ""),
  ]);
  if (!(await inEnvNetns())) throw notRunning();
  const entries = dedupe([...parseProcNetTcp(v4, 4), ...parseProcNetTcp(v6, 6)]);
  const owners = await socketOwners(ctx, names.cgroupPath, new Set(entries.map((e) => e.inode)));
  return entries.slice(0, MAX_LISTENING_PORTS).map((e) => {
    const name = owners.get(e.inode);
    return { port: e.port, address: e.address, family: e.family, ...(name ? { process: name } : {}) };
  });
}

/** The listening sockets in one /proc/net/tcp{,6} text. Lines that do not parse are skipped. */
export function parseProcNetTcp(text: string, family: 4 | 6): ProcNetEntry[] {
  const out: ProcNetEntry[] = [];
  for (const line of text.split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ...
    if (f.length < 10 || f[3] !== LISTEN) continue;
    const [addrHex, portHex] = (f[1] ?? "").split(":");
    const port = Number.parseInt(portHex ?? "", 16);
    const address = addrHex ? hexAddress(addrHex, family) : undefined;
    const inode = f[9] ?? "";
    if (!address || !(port >= 1 && port <= 65_535) || !/^\d+$/.test(inode)) continue;
    out.push({ port, address, family, inode });
  }
  return out;
}

/**
 * An address as /proc/net/tcp prints it: the in-kernel bytes as 32-bit words in host byte order
 * (so 127.0.0.1 is 0100007F on x86), 8 hex digits for IPv4 and 32 for IPv6.
 */
export function hexAddress(hex: string, family: 4 | 6, order = endianness()): string | undefined {
  if (!/^[0-9A-Fa-f]+$/.test(hex) || hex.length !== (family === 4 ? 8 : 32)) return undefined;
  const bytes: number[] = [];
  for (let w = 0; w < hex.length; w += 8) {
    const word = [0, 2, 4, 6].map((i) => Number.parseInt(hex.slice(w + i, w + i + 2), 16));
    bytes.push(...(order === "LE" ? word.reverse() : word));
  }
  if (family === 4) return bytes.join(".");
  // An IPv4-mapped address (a v6 socket's v4 peer) reads best in its dotted form.
  if (bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff)
    return `::ffff:${bytes.slice(12).join(".")}`;
  const groups = Array.from({ length: 8 }, (_, i) => ((bytes[2 * i]! << 8) | bytes[2 * i + 1]!).toString(16));
  return compressV6(groups);
}

/** RFC 5952 text: the longest run (2 or more) of zero groups becomes "::". */
function compressV6(groups: string[]): string {
  let best = { at: -1, len: 0 };
  for (let i = 0; i < 8; ) {
    if (groups[i] !== "0") {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === "0") j++;
    if (j - i > best.len) best = { at: i, len: j - i };
    i = j;
  }
  if (best.len < 2) return groups.join(":");
  return `${groups.slice(0, best.at).join(":")}::${groups.slice(best.at + best.len).join(":")}`;
}

/** One entry per port, address and family (SO_REUSEPORT servers hold several), sorted. */
function dedupe(entries: ProcNetEntry[]): ProcNetEntry[] {
  const seen = new Map<string, ProcNetEntry>();
  for (const e of entries)
    seen.set(`${e.port} ${e.family} ${e.address}`, seen.get(`${e.port} ${e.family} ${e.address}`) ?? e);
  return [...seen.values()].sort(
    (a, b) => a.port - b.port || a.family - b.family || a.address.localeCompare(b.address),
  );
}

/** Socket inode -> the name of a process of the environment holding it. Best effort, bounded. */
async function socketOwners(
  ctx: EngineContext,
  cgroupPath: string,
  inodes: Set<string>,
): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  if (inodes.size === 0) return out;
  const paths = ctx.cgroups.paths(cgroupPath);
  // v1: the pids (or memory) hierarchy holds every process, exec'd ones too; v2: the one group.
  const dir = paths["pids"] ?? paths["memory"] ?? paths["unified"];
  if (!dir) return out;
  const procs = await readFile(`${dir}/cgroup.procs`, "utf8").catch(() => "");
  const pids = procs
    .split("\n")
    .filter((l) => /^\d+$/.test(l))
    .slice(0, MAX_PROCS);
  let budget = MAX_READLINKS;
  for (const pid of pids) {
    if (out.size === inodes.size || budget <= 0) break;
    const fds = await readdir(`/proc/${pid}/fd`).catch(() => [] as string[]);
    let comm: string | undefined;
    for (const fd of fds) {
      if (budget-- <= 0) break;
      const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => "");
      const m = /^socket:\[(\d+)\]$/.exec(target);
      if (!m || !inodes.has(m[1]!) || out.has(m[1]!)) continue;
      comm ??= cleanComm(await readFile(`/proc/${pid}/comm`, "utf8").catch(() => ""));
      if (comm) out.set(m[1]!, comm);
    }
  }
  return out;
}

/** comm is set by the environment (prctl PR_SET_NAME): keep it printable and short. */
export function cleanComm(s: string): string {
  return s
    .replace(/\n$/, "")
    .replace(/[\u0000-\u001f\u007f-\u009f]/g, "?")
    .slice(0, 64);
}
