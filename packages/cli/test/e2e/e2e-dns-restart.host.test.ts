// DNS outlives the daemon: the resolver is its own process, so an environment that resolves names
// in a loop keeps getting answers while the daemon is killed with SIGKILL and restarted. The
// restarted daemon adopts the same resolver (not a second one) and pushes it new names. An
// explicit shutdown keeps the resolver while environments run and stops it when none do. Crash
// restarts, replacement and the control channel are covered in runner/test/dns-process.host.test.ts.
import assert from "node:assert/strict";
import dgram from "node:dgram";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { type Harness, makeHarness } from "@warren/testing/e2e-harness";
import dnsPacket from "dns-packet";

/** Answers every A query with a 1 s TTL, so the loop keeps reaching the upstream through the resolver. */
async function standInUpstream(): Promise<{ port: number; close: () => void }> {
  const sock = dgram.createSocket("udp4");
  sock.on("message", (msg, rinfo) => {
    const q = dnsPacket.decode(msg);
    const question = q.questions?.[0];
    if (!question) return;
    const a =
      question.type === "A"
        ? [{ type: "A" as const, name: question.name, ttl: 1, data: "198.51.100.9" }]
        : [];
    sock.send(
      dnsPacket.encode({
        type: "response",
        id: q.id ?? 0,
        flags: dnsPacket.RECURSION_AVAILABLE,
        questions: [question],
        answers: a,
      }),
      rinfo.port,
      rinfo.address,
    );
  });
  await new Promise<void>((r) => sock.bind(0, "127.0.0.1", r));
  return { port: sock.address().port, close: () => sock.close() };
}

const pidAlive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Every resolver process serving this test's run dir (there must never be two). */
function resolversOf(root: string): number[] {
  const out: number[] = [];
  for (const p of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    let cmd = "";
    try {
      cmd = readFileSync(`/proc/${p}/cmdline`, "utf8");
    } catch {}
    if (cmd.includes("resolver-process.ts") && cmd.includes(`${root}/run/dns.sock`)) out.push(Number(p));
  }
  return out;
}

// Each line: "<ms since epoch> ok|fail". Both an upstream name and the environment's own name
// (answered from the table the daemon pushes) must resolve for "ok".
const LOOP = `
while [ ! -e /tmp/dns-loop.stop ]; do
  t=$(date +%s%3N)
  if getent hosts loop.example.test >/dev/null && getent -s dns hosts d.warren.internal >/dev/null; then
    echo "$t ok"
  else
    echo "$t fail"
  fi
  sleep 0.1
done`;

describe("DNS across a daemon restart (e2e)", { timeout: 300_000 }, () => {
  let h: Harness;
  let up: { port: number; close: () => void };
  let env: NodeJS.ProcessEnv;
  const pidFile = () => path.join(h.root, "run", "dns.pid");
  const recordedPid = () => Number(readFileSync(pidFile(), "utf8").trim());

  before(async () => {
    up = await standInUpstream();
    h = await makeHarness("dnsrestart");
    env = { WARREN_DNS_UPSTREAMS: `127.0.0.1:${up.port}` };
    await h.startDaemon(env);
    const r = h.cli(["up", "--name", "d", "--disk", "1g", "--detach"]);
    assert.equal(r.status, 0, r.stderr);
  });
  after(async () => {
    await h?.teardown();
    up?.close();
  });

  it("runs the resolver unprivileged, in its own session", () => {
    const pid = recordedPid();
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    assert.match(status, /^Uid:\s+65534\s+65534\s+65534\s+65534$/m);
    assert.match(status, /^CapEff:\s+0+$/m);
    assert.match(status, /^CapPrm:\s+0+$/m);
    assert.match(status, /^NoNewPrivs:\s+1$/m);
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    assert.equal(Number(stat[3]), pid, "session leader: a signal to the daemon's group misses it");
  });

  it("answers without a gap while the daemon is killed and restarted", async () => {
    const resolverBefore = recordedPid();
    // Async CLI calls only while the loop runs: the stand-in upstream lives in this process.
    const bg = await h.cliAsync([
      "exec",
      "d",
      "--",
      "sh",
      "-c",
      `setsid sh -c '${LOOP}' >/tmp/dns-loop.log 2>&1 </dev/null &`,
    ]);
    assert.equal(bg.status, 0, bg.stderr);
    await sleep(1000);
    const killedAt = Date.now();
    await h.killDaemon();
    // Down for longer than the allowed gap, so a resolver inside the daemon would fail this test.
    await sleep(1500);
    await h.startDaemon(env);
    const restartedAt = Date.now();
    await sleep(1200);
    assert.equal((await h.cliAsync(["exec", "d", "--", "touch", "/tmp/dns-loop.stop"])).status, 0);
    await sleep(300);
    const log = (await h.cliAsync(["exec", "d", "--", "cat", "/tmp/dns-loop.log"])).stdout;
    const rows = log
      .trim()
      .split("\n")
      .map((l) => l.split(" "))
      .map(([t, r]) => ({ t: Number(t), ok: r === "ok" }));
    const oks = rows.filter((r) => r.ok).map((r) => r.t);
    const fails = rows.filter((r) => !r.ok);
    let maxGap = 0;
    for (let i = 1; i < oks.length; i++) maxGap = Math.max(maxGap, oks[i]! - oks[i - 1]!);
    const duringOutage = oks.filter((t) => t > killedAt && t < restartedAt).length;
    const afterRestart = oks.filter((t) => t >= restartedAt).length;
    console.log(
      `dns across restart: daemon down ${restartedAt - killedAt} ms; ` +
        `${oks.length} answers, ${fails.length} failed, max gap ${maxGap} ms, ` +
        `${duringOutage} while the daemon was down, ${afterRestart} after the restart`,
    );
    assert.ok(oks.length >= 20, `too few answers:\n${log}`);
    assert.deepEqual(fails, [], "no lookup failed");
    assert.ok(maxGap <= 1000, `max gap ${maxGap} ms`);
    assert.ok(duringOutage >= 5, `answers while the daemon was down: ${duringOutage}`);
    assert.ok(afterRestart >= 5, `answers after the restart: ${afterRestart}`);
    assert.ok(oks.at(-1)! >= restartedAt + 800, "answers continue after the restart");
    assert.equal(recordedPid(), resolverBefore, "the restarted daemon adopted the running resolver");
    assert.deepEqual(resolversOf(h.root), [resolverBefore], "exactly one resolver");
    const stats = JSON.parse(h.cli(["dns", "stats", "--json"]).stdout) as {
      hits: number;
      upstreamQueries: number;
    };
    assert.ok(
      stats.hits + stats.upstreamQueries >= oks.length,
      `stats span the restart: ${JSON.stringify(stats)}`,
    );
  });

  it("the adopted resolver learns environments created after the restart", async () => {
    assert.equal(h.cli(["up", "--name", "e", "--disk", "1g", "--detach"]).status, 0);
    const r = await h.cliAsync(["exec", "e", "--", "getent", "-s", "dns", "hosts", "e.warren.internal"]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(h.cli(["rm", "-f", "e"]).status, 0);
  });

  it("an explicit shutdown keeps the resolver while environments run and stops it when none do", async () => {
    const stopDaemon = async () => {
      const d = h.daemon!;
      const exited = new Promise((r) => d.once("exit", r));
      d.kill("SIGTERM");
      await exited;
      h.daemon = null;
    };
    const pid = recordedPid();
    await stopDaemon();
    assert.ok(pidAlive(pid), "kept: environment d still runs");
    await h.startDaemon(env);
    assert.equal(recordedPid(), pid);
    assert.equal(h.cli(["rm", "-f", "d"]).status, 0);
    await stopDaemon();
    assert.ok(!pidAlive(pid), "stopped: no environment runs");
    assert.deepEqual(resolversOf(h.root), []);
  });
});
