// Runners sharing a host: each records its id range, subnet, root, run dir and prefix in a
// registry; an overlap with a live claim is refused naming the resource, the runner and its pid;
// a dead runner's claim (or a reused pid's) is stale and ignored.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { isWarrenError } from "@warren/protocol";
import {
  claimHostResources,
  claimRunnerHost,
  dirsOverlap,
  type HostClaim,
  processStart,
  subnetsOverlap,
} from "../src/host/claims.ts";
import { defaultConfig } from "../src/host/config.ts";

const base = mkdtempSync(path.join(tmpdir(), "wt-claims-"));
after(() => rmSync(base, { recursive: true, force: true }));
let n = 0;
const freshDir = () => path.join(base, `reg${n++}`);

function claim(over: Partial<HostClaim> = {}): HostClaim {
  const i = n++;
  return {
    kind: "runner",
    name: `r${i}`,
    prefix: `wc${i}`,
    root: path.join(base, `root${i}`),
    runDir: path.join(base, `run${i}`),
    idRange: { start: 3_500_000_000 + i * 65536 * 16, size: 65536 * 16 },
    subnet: `10.210.${i % 250}.0/24`,
    ...over,
  };
}

function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(isWarrenError(err), String(err));
    assert.equal(err.code, "INVALID_ARGUMENT");
    return err.message;
  }
  assert.fail("expected the claim to be refused");
}

const claims = (dir: string) => readdirSync(dir).filter((f) => f.endsWith(".json"));

describe("host claims", () => {
  it("disjoint runners both claim; release removes only its own file", () => {
    const dir = freshDir();
    const a = claimHostResources(claim(), { dir, subidFiles: [] });
    const b = claimHostResources(claim(), { dir, subidFiles: [] });
    assert.equal(claims(dir).length, 2);
    a();
    assert.equal(claims(dir).length, 1);
    b();
    assert.deepEqual(claims(dir), []);
  });

  const cases: [string, (first: HostClaim) => Partial<HostClaim>, RegExp][] = [
    [
      "id range",
      (f) => ({ idRange: { start: f.idRange.start + 65536, size: 65536 } }),
      /id range \d+:65536 overlaps runner `first` \(pid \d+\)'s \d+:1048576: set WARREN_ID_RANGE=\d+:65536/,
    ],
    [
      "subnet",
      (f) => ({ subnet: f.subnet.replace(/\.0\/24$/, ".128/25") }),
      /subnet .* overlaps runner `first` .*set WARREN_SUBNET=10\.210\.\d+\.0\/25/,
    ],
    [
      "state root",
      (f) => ({ root: path.join(f.root, "inner") }),
      /state root .*inner overlaps runner `first` .*pass --root DIR/,
    ],
    [
      "run directory",
      (f) => ({ runDir: f.runDir }),
      /run directory .* overlaps runner `first` .*pass --run DIR/,
    ],
    [
      "root inside the other's run dir",
      (f) => ({ root: path.join(f.runDir, "x") }),
      /state root .* overlaps runner `first`/,
    ],
    [
      "prefix",
      (f) => ({ prefix: f.prefix }),
      /prefix wc\d+ is runner `first` \(pid \d+\)'s: pass --prefix wc\d+2/,
    ],
  ];
  for (const [what, clash, message] of cases) {
    it(`refuses an overlapping ${what}, names the runner, records nothing`, () => {
      const dir = freshDir();
      const first = claim({ name: "first" });
      const release = claimHostResources(first, { dir, subidFiles: [] });
      const second = { ...claim({ name: "second" }), ...clash(first) };
      const msg = refusal(() => claimHostResources(second, { dir, subidFiles: [] }));
      assert.match(msg, message);
      assert.match(msg, new RegExp(`pid ${process.pid}`));
      // Exactly one problem: the other resources were chosen disjoint.
      assert.equal(msg.split("; ").length, 1, msg);
      assert.equal(claims(dir).length, 1);
      release();
    });
  }

  it("a second daemon on the same installation is told to stop the first", () => {
    const dir = freshDir();
    const first = claim({ kind: "daemon" });
    const release = claimHostResources(first, { dir, subidFiles: [] });
    const msg = refusal(() => claimHostResources({ ...first }, { dir, subidFiles: [] }));
    assert.match(msg, /the embedded daemon \(pid \d+\) already serves .*; stop it first/);
    release();
  });

  it("the suggested id range skips other users' subordinate ids and live claims", () => {
    const dir = freshDir();
    const subuid = path.join(base, "subuid");
    const first = claim({ idRange: { start: 65536 * 100, size: 65536 * 4 } });
    // Another user's block right after the first runner's range.
    writeFileSync(subuid, `alice:${65536 * 104}:${65536 * 2}\n`);
    const release = claimHostResources(first, { dir, subidFiles: [] });
    const msg = refusal(() =>
      claimHostResources(claim({ idRange: { start: 65536 * 101, size: 65536 * 4 } }), {
        dir,
        subidFiles: [subuid],
      }),
    );
    assert.match(msg, new RegExp(`WARREN_ID_RANGE=${65536 * 106}:${65536 * 4}`), msg);
    release();
  });

  it("a dead runner's claim is stale: ignored and deleted", async () => {
    const dir = freshDir();
    const child = spawn("sleep", ["30"], { stdio: "ignore" });
    await new Promise((r) => child.once("spawn", r));
    const dead = claim({ name: "gone" });
    claimHostResources(dead, { dir, subidFiles: [], pid: child.pid! });
    // While it lives, its claim holds.
    refusal(() => claimHostResources({ ...claim(), prefix: dead.prefix }, { dir, subidFiles: [] }));
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGKILL");
    await exited;
    const release = claimHostResources({ ...dead, name: "again" }, { dir, subidFiles: [] });
    const files = claims(dir);
    assert.equal(files.length, 1);
    assert.equal(JSON.parse(readFileSync(path.join(dir, files[0]!), "utf8")).name, "again");
    release();
  });

  it("a reused pid (same pid, other start time) does not keep a claim alive", () => {
    const dir = freshDir();
    const old = claim();
    const stored = { ...old, pid: process.pid, pidStart: "1", claimedAt: new Date().toISOString() };
    mkdirSync(dir);
    writeFileSync(path.join(dir, `${old.prefix}.json`), JSON.stringify(stored));
    const release = claimHostResources({ ...claim(), prefix: old.prefix }, { dir, subidFiles: [] });
    assert.equal(
      JSON.parse(readFileSync(path.join(dir, `${old.prefix}.json`), "utf8")).pidStart,
      processStart(process.pid),
    );
    release();
  });

  it("a registry lock left by a dead process is taken over", () => {
    const dir = freshDir();
    claimHostResources(claim(), { dir, subidFiles: [] })();
    writeFileSync(path.join(dir, ".lock"), "2147483646 5");
    const release = claimHostResources(claim(), { dir, subidFiles: [] });
    assert.ok(!existsSync(path.join(dir, ".lock")));
    release();
  });

  it("claimRunnerHost takes the config's range, subnet, root, run dir and prefix", async () => {
    const dir = freshDir();
    const cfg = defaultConfig({
      root: path.join(base, "cfgroot"),
      runDir: path.join(base, "cfgrun"),
      prefix: "wcfg",
      subnet: "10.211.0.0/24",
      idRange: { start: 3_900_000_000, size: 65536 * 8 },
      name: "cfg-runner",
    });
    const release = await claimRunnerHost(cfg, "runner", { dir, subidFiles: [] });
    const stored = JSON.parse(readFileSync(path.join(dir, "wcfg.json"), "utf8"));
    assert.equal(stored.subnet, "10.211.0.0/24");
    assert.deepEqual(stored.idRange, { start: 3_900_000_000, size: 65536 * 8 });
    assert.equal(stored.name, "cfg-runner");
    assert.equal(stored.pid, process.pid);
    assert.equal(stored.pidStart, processStart(process.pid));
    release();
  });
});

describe("overlap predicates", () => {
  it("subnets", () => {
    assert.ok(subnetsOverlap("10.0.0.0/16", "10.0.5.0/24"));
    assert.ok(!subnetsOverlap("10.0.0.0/24", "10.0.1.0/24"));
    assert.ok(subnetsOverlap("10.0.0.0/8", "10.255.255.0/30"));
  });
  it("directories", () => {
    assert.ok(dirsOverlap("/a/b", "/a/b/"));
    assert.ok(dirsOverlap("/a/b", "/a/b/c"));
    assert.ok(!dirsOverlap("/a/b", "/a/bc"));
    assert.ok(dirsOverlap("/", "/x"));
  });
});
