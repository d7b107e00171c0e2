// The hostile-image corpus: an image whose sh, bash, env, cat, ls, id, mkdir, chmod, chown,
// ldconfig and git are all beacons, run through every lifecycle step of the real engine (create,
// start, secret delivery of both kinds, exec, stop, start, resize, logs, stats, rm) on crun,
// runc and gVisor. A beacon records where it runs (network namespace, cgroup), tries to reach a
// TCP listener on the host's 127.0.0.1 and leaves a background loop that keeps trying. The rule
// it checks (runtime/types.ts): image code runs only as a process of its environment. So:
//   - no connection ever reaches the host listener;
//   - every beacon process on the host is in the environment's cgroups and network namespace,
//     and every record was written inside the environment's network namespace;
//   - nothing of the environment (processes, cgroups, mounts, runtime state) survives rm.
// Beacons that run inside through exec are expected; a control case (runc) runs the old
// `nsenter ... /bin/cat` delivery once and shows that the corpus catches it.
// Run by hostile-image-corpus-{crun,runc,gvisor}.host.test.ts, one runtime per file.
import assert from "node:assert/strict";
import { randomBytes, randomInt } from "node:crypto";
import { existsSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { chmod, copyFile, mkdir, readdir, readFile, rm, rmdir, unlink, writeFile } from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type { RunnerEnvSpec, RuntimeName } from "@warren/protocol";
import { LayoutBuilder, named } from "@warren/testing/oci-layout";
import type { Engine } from "../src/engine/engine.ts";
import { createRunner } from "../src/engine/runner.ts";
import type { RunnerConfig } from "../src/host/config.ts";
import { hostNames } from "../src/host/names.ts";
import { run } from "../src/host/run.ts";
import { listEnvNetworks, removeHostNetwork } from "../src/network/index.ts";
import { readMounts } from "../src/storage/mountinfo.ts";
import { BUSYBOX, busyboxAvailable, makeBusyboxRootfs } from "./fixtures/busybox-rootfs.ts";

const CI = process.env["CI"] === "true";
const IS_ROOT = process.getuid?.() === 0;
const TAG = randomBytes(3).toString("hex");
const PREFIX = `wt${TAG}`;
const DIR = `/tmp/warren-hostile-${TAG}`;
/** Inside the image: the real busybox the beacons use, and where they record. */
const BEACON_BIN = `/.beacon-${TAG}/busybox`;
const RECORDS = `/.beacon-log-${TAG}/records`;
const BEACONS = ["sh", "bash", "env", "cat", "ls", "id", "mkdir", "chmod", "chown", "ldconfig", "git"];
/** Beacons that then do their real job (busybox has these applets); the rest just exit 0. */
const APPLETS = new Set(["sh", "env", "cat", "ls", "id", "mkdir", "chmod", "chown"]);
const REF = `hostile/corpus:${TAG}`;
const ENV_ID = `${TAG}corpus`;
const FILE_VALUE = `file-${randomBytes(6).toString("hex")}`;
const ENV_VALUE = `env-${randomBytes(6).toString("hex")}`;
// A private /24, so the resolver, nft table and links are this file's alone.
process.env["WARREN_SUBNET"] = `10.203.${randomInt(1, 250)}.0/24`;

function beaconScript(name: string, port: number): string {
  const B = BEACON_BIN;
  const log = path.posix.dirname(RECORDS);
  const loop = `i=0; while [ $i -lt 40 ]; do ${B} nc -w 1 127.0.0.1 ${port} </dev/null; i=$((i+1)); ${B} sleep 1; done`;
  return [
    `#!${B} sh`,
    `${B} mkdir -p ${log} 2>/dev/null`,
    `echo "name=${name} ctl=\${BEACON_CONTROL:-0} net=$(${B} readlink /proc/self/ns/net) cgroup=$(${B} tr '\\n' ' ' </proc/self/cgroup)" >>${RECORDS} 2>/dev/null`,
    `${B} nc -w 1 127.0.0.1 ${port} </dev/null >/dev/null 2>&1`,
    `${B} sh -c '${loop}' >/dev/null 2>&1 </dev/null &`,
    APPLETS.has(name) ? `exec ${B} ${name} "$@"` : "exit 0",
    "",
  ].join("\n");
}

async function buildCorpusImage(port: number): Promise<string> {
  const rootfs = path.join(DIR, "image-rootfs");
  await makeBusyboxRootfs(rootfs);
  await mkdir(path.join(rootfs, path.dirname(BEACON_BIN.slice(1))), { recursive: true });
  await copyFile(BUSYBOX, path.join(rootfs, BEACON_BIN.slice(1)));
  await chmod(path.join(rootfs, BEACON_BIN.slice(1)), 0o755);
  await mkdir(path.join(rootfs, "run"), { recursive: true });
  for (const name of BEACONS) {
    const file = path.join(rootfs, "bin", name);
    await unlink(file).catch(() => undefined);
    await writeFile(file, beaconScript(name, port), { mode: 0o755 });
  }
  const tar = path.join(DIR, "layer.tar");
  await run("tar", ["-cf", tar, "--numeric-owner", "-C", rootfs, "."]);
  const layout = new LayoutBuilder(path.join(DIR, "layout"));
  const img = await layout.image([await readFile(tar)], { compression: "none", cmd: ["/bin/sh"] });
  return layout.write([named(img.manifest, REF)]);
}

interface Proc {
  pid: number;
  net: string;
  cgroup: string;
}

/** Host processes running the corpus's busybox (beacons and everything they started). */
function beaconProcesses(): Proc[] {
  const out: Proc[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (!readlinkSync(`/proc/${entry}/exe`).includes(BEACON_BIN)) continue;
      out.push({
        pid: Number(entry),
        net: readlinkSync(`/proc/${entry}/ns/net`),
        cgroup: readFileSync(`/proc/${entry}/cgroup`, "utf8"),
      });
    } catch {} // exited meanwhile, or a kernel thread
  }
  return out;
}

function killAll(procs: Proc[]): void {
  for (const p of procs) {
    try {
      process.kill(p.pid, "SIGKILL");
    } catch {}
  }
}

interface Leftovers {
  cgroups: string[];
  mounts: string[];
  state: string[];
  networks: string[];
  processes: number;
}

function leftovers(): Leftovers {
  const cgroups: string[] = [];
  for (const ctrl of readdirSync("/sys/fs/cgroup")) {
    const dir = path.join("/sys/fs/cgroup", ctrl, PREFIX);
    if (existsSync(dir)) cgroups.push(...readdirSync(dir).filter((d) => d.startsWith(PREFIX)));
  }
  // The runner's own mounts (its netns directory) stay until the runner goes; an environment's
  // live under root/envs.
  const mounts = readMounts()
    .map((m) => m.mountPoint)
    .filter((m) => m.startsWith(`${DIR}/root/`));
  const state: string[] = [];
  for (const rt of ["runc", "crun", "runsc"]) {
    const dir = path.join(DIR, "run", rt);
    if (existsSync(dir)) state.push(...readdirSync(dir).map((c) => `${rt}:${c}`));
  }
  const networks = existsSync(path.join(DIR, "run")) ? listEnvNetworks(cfgOf()) : [];
  return { cgroups, mounts, state, networks, processes: beaconProcesses().length };
}

async function removeCgroupTree(dir: string): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => null);
  if (!entries) return;
  for (const e of entries) if (e.isDirectory()) await removeCgroupTree(path.join(dir, e.name));
  for (let i = 0; i < 50; i++) {
    try {
      await rmdir(dir);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
      await sleep(20);
    }
  }
}

let cfgOf: () => RunnerConfig;
const ready = IS_ROOT && busyboxAvailable();
const skip = !ready && !CI ? "needs root and busybox-static" : false;

/** The whole corpus against one runtime; one test file per runtime keeps each under 30 s. */
export function hostileImageCorpus(runtime: RuntimeName): void {
  describe(`hostile-image corpus on ${runtime}: image code never runs outside the environment`, {
    skip,
  }, () => {
    let engine: Engine;
    let hits = 0;
    const listener = net.createServer((sock) => {
      hits++;
      sock.destroy();
    });
    const hostNet = readlinkSync("/proc/self/ns/net");
    const results: string[] = [];

    before(async () => {
      await mkdir(DIR, { recursive: true });
      await new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", resolve));
      const port = (listener.address() as net.AddressInfo).port;
      const layout = await buildCorpusImage(port);
      engine = await createRunner({
        root: path.join(DIR, "root"),
        runDir: path.join(DIR, "run"),
        prefix: PREFIX,
        imagesDir: path.join(DIR, "images"),
        idRange: { start: 3_100_000_000 + randomInt(0, 200) * 65536 * 8, size: 65536 * 8 },
      });
      cfgOf = () => engine.ctx.cfg;
      await engine.importImage(layout, REF, () => {});
    });

    after(async () => {
      await engine?.remove(ENV_ID).catch(() => undefined);
      killAll(beaconProcesses());
      await engine?.close();
      if (engine) await removeHostNetwork(engine.ctx.cfg).catch(() => undefined);
      for (const ctrl of readdirSync("/sys/fs/cgroup"))
        await removeCgroupTree(path.join("/sys/fs/cgroup", ctrl, PREFIX));
      listener.close();
      await rm(DIR, { recursive: true, force: true });
      for (const line of results) console.log(line);
    });

    it(`every lifecycle step on ${runtime}: no host connection, no stray process, nothing left`, async (t) => {
      if (!engine.ctx.runtimes.has(runtime)) {
        if (CI) assert.fail(`${runtime} is not available on this runner`);
        return t.skip(`${runtime} is not available here`);
      }
      const t0 = performance.now();
      const id = ENV_ID;
      const names = hostNames(engine.ctx.cfg, id);
      const spec: RunnerEnvSpec = {
        id,
        name: `corpus-${runtime}`,
        slot: 1,
        image: REF,
        runtime,
        resources: { cpus: 1, memoryBytes: 256 * 1024 ** 2, diskBytes: 256 * 1024 ** 2, pids: 2048 },
        secrets: [
          { name: "FILE_S", kind: "file", value: FILE_VALUE },
          { name: "ENV_S", kind: "env", value: ENV_VALUE },
        ],
      };
      let stray = 0;
      /** Every network namespace the environment had (each start makes a new one). */
      const envNets = new Set<string>();
      const steps: string[] = [];
      let tStep = performance.now();
      /** After each step: every beacon process on the host sits in the environment. */
      const check = async (step: string) => {
        await sleep(300); // a beacon's first connect attempt and its loop's first round
        const st = await engine.ctx.runtimes.get(runtime)!.state(names.containerId);
        const envNet = st?.pid ? readlinkSync(`/proc/${st.pid}/ns/net`) : null;
        const envCgroup = st?.pid ? readFileSync(`/proc/${st.pid}/cgroup`, "utf8") : null;
        if (envNet) envNets.add(envNet);
        const outside = beaconProcesses().filter((p) => p.net !== envNet || p.cgroup !== envCgroup);
        stray += outside.length;
        assert.deepEqual(outside, [], `${runtime} ${step}: beacon processes outside the environment`);
        assert.equal(hits, 0, `${runtime} ${step}: connections reached the host's 127.0.0.1`);
        steps.push(`${step} ${((performance.now() - tStep) / 1000).toFixed(1)}s`);
        tStep = performance.now();
      };
      const exec = (cmd: string[]) =>
        new Promise<{ code: number; out: string }>((resolve, reject) => {
          let out = "";
          engine
            .exec(
              id,
              { cmd, tty: false },
              {
                stdout: (d) => {
                  out += Buffer.from(d).toString();
                },
                stderr: (d) => {
                  out += Buffer.from(d).toString();
                },
                exit: (code) => resolve({ code, out }),
                error: reject,
              },
            )
            .then((s) => s.endStdin(), reject);
        });

      await engine.ensureRunning(spec); // create, start, secret delivery
      await check("create+start+deliver");
      // Absolute paths: busybox's sh would otherwise run its own applets without an exec.
      const every = [
        "/bin/cat /run/secrets/FILE_S; echo; echo $ENV_S; /bin/id",
        "/bin/ls / >/dev/null; /bin/env >/dev/null; /bin/mkdir -p /tmp/d; /bin/chmod 700 /tmp/d",
        "/bin/chown 0 /tmp/d; /bin/bash -c true; /usr/bin/git --version; /sbin/ldconfig",
      ].join("; ");
      const r = await exec(["sh", "-c", every]);
      assert.equal(r.code, 0, r.out);
      assert.match(r.out, new RegExp(`${FILE_VALUE}\\n${ENV_VALUE}\\nuid=0`), "the secrets were delivered");
      await check("exec");
      if (runtime !== "gvisor") {
        assert.ok(beaconProcesses().length > 0, "exec'd beacons left their loops running inside");
      }
      await engine.ensureStopped(spec, 2000);
      assert.equal(beaconProcesses().length, 0, `${runtime}: beacon processes survived stop`);
      await check("stop");
      await engine.ensureRunning(spec); // start again, with a second delivery
      await check("start");
      await engine.setResources({
        ...spec,
        resources: { ...spec.resources, cpus: 0.5, memoryBytes: 384 * 1024 ** 2 },
      });
      await check("resize");
      let log = "";
      await engine.logs(id, { follow: false }, (c) => {
        log += c;
      }).done;
      assert.match(log, /started/);
      await check("logs");
      const stats = await engine.stats(id);
      assert.equal(stats.memoryLimitBytes, 384 * 1024 ** 2, "stats see the resized limit");
      await check("stats");

      // Every record came from inside the environment's network namespace.
      const st = await engine.ctx.runtimes.get(runtime)!.state(names.containerId);
      const envNet = readlinkSync(`/proc/${st!.pid}/ns/net`);
      const records = (await readFile(path.join(names.upperDir, RECORDS), "utf8"))
        .split("\n")
        .filter(Boolean);
      const ran = new Set(records.map((l) => /name=(\S+)/.exec(l)?.[1]));
      for (const b of BEACONS) assert.ok(ran.has(b), `the ${b} beacon never ran (records: ${[...ran]})`);
      for (const rec of records) {
        assert.ok(!rec.includes(`net=${hostNet}`), `${runtime}: a beacon ran in the host's netns: ${rec}`);
        if (runtime !== "gvisor")
          assert.ok(envNets.has(/net=(\S+)/.exec(rec)?.[1] ?? ""), `${runtime}: outside the env: ${rec}`);
      }

      if (runtime === "runc") {
        // Control: the delivery this replaced (nsenter into the user and mount namespaces, then
        // the image's own binary) is caught by exactly these checks.
        await run(
          "nsenter",
          [`--target=${st!.pid}`, "--user", "--mount", "--root", "--wd", "--", "/bin/cat", "/dev/null"],
          {
            env: { BEACON_CONTROL: "1", PATH: "/bin" },
          },
        );
        const until = Date.now() + 3000;
        while (hits === 0 && Date.now() < until) await sleep(50);
        const escaped = beaconProcesses().filter((p) => p.net !== envNet);
        // Ours, by pid: the loop and any nc it started meanwhile.
        for (let k = 0; k < 5; k++) {
          killAll(beaconProcesses().filter((p) => p.net !== envNet));
          await sleep(100);
        }
        assert.ok(hits > 0 && escaped.length > 0, `control: hits ${hits}, stray ${escaped.length}`);
        results.push(
          `control (old nsenter delivery, runc): ${hits} host connection(s), ${escaped.length} stray process(es)`,
        );
        hits = 0;
      }

      await engine.remove(id);
      await sleep(300);
      const left = leftovers();
      assert.deepEqual(
        left,
        { cgroups: [], mounts: [], state: [], networks: [], processes: 0 },
        `${runtime}: left after rm`,
      );
      assert.ok(!existsSync(names.envDir), `${names.envDir} left after rm`);
      assert.equal(hits, 0);
      const s = ((performance.now() - t0) / 1000).toFixed(1);
      results.push(
        `${runtime}: host connections ${hits}, stray beacon processes ${stray}, leftovers after rm ${
          left.cgroups.length + left.mounts.length + left.state.length + left.networks.length + left.processes
        }, beacon records ${records.length} (all inside), ${s} s`,
      );
      t.diagnostic(results.at(-1)!);
      t.diagnostic(`${runtime} steps: ${steps.join(", ")}`);
    });
  });
}
