// The resolver as its own process, driven by the runner-side supervisor: a second supervisor
// (a restarted daemon) adopts the running resolver instead of starting another, pushes its names
// table, and sends later changes; a crashed resolver is started again; a resolver with another
// configuration is replaced; garbage on the control socket costs only that connection; and an
// explicit stop ends the process and its files. Needs root (setpriv, port binding, setuid).
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { addresses, loopbackHost, query, type StandIn, startUpstream } from "@warren/testing/dns-fixture";
import type { ResolverIdentity } from "../src/dns/control.ts";
import { type ResolverProcess, recordedResolverPid, superviseResolver } from "../src/dns/supervisor.ts";

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe("dns resolver process", { timeout: 60_000 }, () => {
  let up: StandIn;
  let runDir: string;
  let identity: ResolverIdentity;
  let srv: { host: string; port: number };
  const client = loopbackHost();
  const supervisors: ResolverProcess[] = [];
  const supervise = async (names: [string, string][], id = identity) => {
    const s = await superviseResolver({ identity: id, runDir, uid: 65534, gid: 65534, names: () => names });
    supervisors.push(s);
    return s;
  };
  const ownName = async (name: string) =>
    (await query(srv, `${name}.warren.internal`, { from: client })).rcode;

  before(async () => {
    up = await startUpstream({ a: ["198.51.100.1"], ttl: 1 });
    runDir = mkdtempSync(path.join(tmpdir(), "warren-dnsproc-"));
    srv = { host: loopbackHost(), port: 20000 + Math.floor(Math.random() * 40000) };
    identity = { listen: [srv], zone: "warren.internal", upstreams: [up.addr] };
  });
  after(async () => {
    for (const s of supervisors) await s.close({ stop: false });
    const pid = recordedResolverPid(runDir);
    if (pid !== undefined) process.kill(pid, "SIGKILL");
    rmSync(runDir, { recursive: true, force: true });
    await up.close();
  });

  it("starts a resolver that forwards and answers the names it was given", async () => {
    const s = await supervise([[client, "dev1"]]);
    assert.ok(s.pid() && alive(s.pid()!));
    assert.deepEqual(addresses(await query(srv, "www.example.test")), ["198.51.100.1"]);
    assert.equal(await ownName("dev1"), 0);
    assert.equal((await s.stats()).upstreams[0], up.addr);
  });

  it("a second supervisor adopts the same process and its names replace the old ones", async () => {
    const first = supervisors[0]!;
    const pid = first.pid();
    await first.close({ stop: false }); // the daemon went away; the resolver stays
    assert.ok(alive(pid!));
    const s = await supervise([[client, "dev2"]]);
    assert.equal(s.pid(), pid, "adopted, not duplicated");
    await sleep(50);
    assert.equal(await ownName("dev2"), 0);
    assert.equal(await ownName("dev1"), 3, "the old table is gone");
    s.set(client, "dev3");
    await sleep(50);
    assert.equal(await ownName("dev3"), 0);
    s.delete(client);
    await sleep(50);
    assert.equal(await ownName("dev3"), 3);
    s.set(client, "dev2");
  });

  it("a crashed resolver is started again, with the names table", async () => {
    const s = supervisors.at(-1)!;
    const old = s.pid()!;
    const t0 = Date.now();
    process.kill(old, "SIGKILL");
    while (Date.now() - t0 < 10_000 && (s.pid() === undefined || s.pid() === old)) await sleep(10);
    console.log(`resolver restarted after a crash in ${Date.now() - t0} ms`);
    assert.notEqual(s.pid(), old);
    await sleep(50);
    assert.equal(await ownName("dev2"), 0);
  });

  it("garbage on the control socket drops that connection only", async () => {
    const s = supervisors.at(-1)!;
    const c = net.connect(path.join(runDir, "dns.sock"));
    const closed = new Promise((r) => c.on("close", r));
    c.on("error", () => {});
    c.write('{"id":1,"op":"names","names":[["x"]]}\n');
    await closed;
    assert.ok((await s.stats()).upstreams.length === 1, "the supervisor's own channel still works");
    assert.deepEqual(addresses(await query(srv, "www.example.test")), ["198.51.100.1"]);
  });

  it("a resolver with another configuration is replaced, and stop ends it", async () => {
    const prev = supervisors.at(-1)!;
    const old = prev.pid()!;
    await prev.close({ stop: false });
    const s = await supervise([[client, "dev2"]], { ...identity, zone: "other.internal" });
    assert.notEqual(s.pid(), old);
    assert.ok(!alive(old));
    assert.equal((await query(srv, "dev2.other.internal", { from: client })).rcode, 0);
    const pid = s.pid()!;
    assert.equal(Number(readFileSync(path.join(runDir, "dns.pid"), "utf8")), pid);
    await s.close({ stop: true });
    assert.ok(!alive(pid));
    assert.equal(recordedResolverPid(runDir), undefined);
    await assert.rejects(query(srv, "www.example.test", { timeoutMs: 300 }));
  });
});
