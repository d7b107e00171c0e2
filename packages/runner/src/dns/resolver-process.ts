// Entry point of the resolver process: the caching resolver on its own, so environments keep
// getting answers while the runner (daemon) restarts or crashes. The runner starts it (see
// supervisor.ts) through setpriv with no_new_privs and a bounding set of only the three
// capabilities needed to bind port 53 and then give up root. It binds its sockets as root, then
// switches to an unprivileged uid, which clears every capability before it reads a packet.
//
//   node resolver-process.ts '{"listen":[...],"zone":"...","upstreams":[...],
//     "controlPath":"...","pidFile":"...","uid":65534,"gid":65534}'
import { readFileSync, unlinkSync, writeFileSync } from "node:fs";
import net from "node:net";
import {
  type ControlReply,
  type ControlRequest,
  EXIT_ALREADY_RUNNING,
  parseRequest,
  type ResolverIdentity,
  readLines,
} from "./control.ts";
import { createResolver } from "./resolver.ts";

interface ProcessConfig extends ResolverIdentity {
  controlPath: string;
  pidFile: string;
  uid: number;
  gid: number;
}

const log = (msg: string, fields: Record<string, unknown> = {}) =>
  process.stderr.write(
    `${JSON.stringify({ time: new Date().toISOString(), pid: process.pid, msg, ...fields })}\n`,
  );

function readConfig(arg: string | undefined): ProcessConfig {
  const c = JSON.parse(arg ?? "null") as ProcessConfig | null;
  const ok =
    c !== null &&
    Array.isArray(c.listen) &&
    c.listen.length > 0 &&
    typeof c.zone === "string" &&
    Array.isArray(c.upstreams) &&
    typeof c.controlPath === "string" &&
    typeof c.pidFile === "string" &&
    Number.isSafeInteger(c.uid) &&
    c.uid > 0 &&
    Number.isSafeInteger(c.gid) &&
    c.gid > 0;
  if (!ok) throw new Error("usage: resolver-process.ts CONFIG_JSON (started by the runner, not by hand)");
  return c;
}

/** True when a live resolver answers on `p` (a stale socket file refuses the connection). */
function answers(p: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(p);
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

function listenControl(p: string, onConn: (s: net.Socket) => void): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    try {
      unlinkSync(p);
    } catch {}
    const srv = net.createServer(onConn);
    srv.once("error", reject);
    srv.listen(p, () => resolve(srv));
  });
}

/** Gives up root for good: no supplementary groups, then gid, then uid (which clears all caps). */
function dropPrivileges(uid: number, gid: number): void {
  if (!process.setgroups || !process.setgid || !process.setuid) throw new Error("needs a POSIX host");
  process.setgroups([]);
  process.setgid(gid);
  process.setuid(uid);
  const capEff = /^CapEff:\s*(\S+)/m.exec(readFileSync("/proc/self/status", "utf8"))?.[1];
  if (process.getuid?.() !== uid || process.geteuid?.() !== uid || !/^0+$/.test(capEff ?? "")) {
    throw new Error(`could not drop privileges (uid ${process.geteuid?.()}, CapEff ${capEff})`);
  }
}

async function main(): Promise<void> {
  const cfg = readConfig(process.argv[2]);
  if (await answers(cfg.controlPath)) {
    log("another resolver already answers; exiting", { controlPath: cfg.controlPath });
    process.exit(EXIT_ALREADY_RUNNING);
  }
  const names = new Map<string, string>();
  const resolver = createResolver({
    listen: cfg.listen,
    zone: cfg.zone,
    upstreams: cfg.upstreams,
    ownName: (ip) => {
      const name = names.get(ip);
      return name ? { name, ip } : undefined;
    },
  });
  await resolver.start();
  const identity: ResolverIdentity = { listen: cfg.listen, zone: cfg.zone, upstreams: cfg.upstreams };
  let stopping = false;
  const stop = async (why: string) => {
    if (stopping) return;
    stopping = true;
    log("stopping", { why });
    control.close();
    await resolver.close();
    process.exit(0);
  };

  const handle = (req: ControlRequest): ControlReply => {
    switch (req.op) {
      case "hello":
        return { id: req.id, ok: true, pid: process.pid, identity };
      case "names":
        names.clear();
        for (const [ip, name] of req.names) names.set(ip, name);
        return { id: req.id, ok: true };
      case "set":
        names.set(req.ip, req.name);
        return { id: req.id, ok: true };
      case "delete":
        names.delete(req.ip);
        return { id: req.id, ok: true };
      case "stats":
        return { id: req.id, ok: true, stats: resolver.stats() };
      case "stop":
        setImmediate(() => void stop("asked by the runner"));
        return { id: req.id, ok: true };
    }
  };
  const control = await listenControl(cfg.controlPath, (sock) => {
    sock.on("error", () => {});
    readLines(sock, (line) => {
      const req = parseRequest(line);
      if (typeof req === "string") {
        // A peer that speaks nonsense is dropped; the resolver and other peers carry on.
        log("bad control message", { error: req });
        return sock.destroy();
      }
      sock.write(`${JSON.stringify(handle(req))}\n`);
    });
  });
  writeFileSync(cfg.pidFile, `${process.pid}\n`, { mode: 0o644 });
  dropPrivileges(cfg.uid, cfg.gid);
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));
  log("serving", { listen: resolver.addresses(), zone: cfg.zone, upstreams: cfg.upstreams, uid: cfg.uid });
}

main().catch((err: unknown) => {
  // Exit non-zero: the runner restarts the resolver; carrying on half-started helps nobody.
  log("resolver failed", { error: err instanceof Error ? err.message : String(err) });
  process.exit(1);
});
