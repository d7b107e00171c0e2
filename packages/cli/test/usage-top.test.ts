// `warren usage` and `warren top`: their pure rendering and sorting, then the real CLI against
// the fake daemon (what it asks for, what it prints, how it refuses bad flags).
import assert from "node:assert/strict";
import type { ServerResponse } from "node:http";
import { after, before, beforeEach, describe, it } from "node:test";
import type { EnvStats, UsageReport } from "@warren/protocol";
import { type TopSample, topSnapshot } from "../src/commands/top-model.ts";
import { renderTop } from "../src/commands/top-render.ts";
import { usageCsv, usageTable } from "../src/commands/usage.ts";
import { type FakeDaemon, makeEnv, runCli, startFakeDaemon } from "./fake-daemon.ts";
import { envStats, GiB, topRunner } from "./top-fixtures.ts";

const report: UsageReport = {
  since: "2026-03-01T00:00:00.000Z",
  until: "2026-03-02T00:00:00.000Z",
  by: "user",
  rows: [
    {
      key: "ann",
      envSeconds: 7200,
      cpuSeconds: 14400,
      memoryGiBHours: 8,
      diskGiBHours: 40,
      measuredCpuSeconds: 900,
    },
    {
      key: '=HYPERLINK("x"),b',
      envSeconds: 3600,
      cpuSeconds: 3600,
      memoryGiBHours: 1,
      diskGiBHours: 4,
      measuredCpuSeconds: 0,
    },
  ],
};

describe("usage output", () => {
  it("a table in hours with a total", () => {
    const lines = usageTable(report).split("\n");
    assert.equal(lines[0], "usage by user, 2026-03-01T00:00:00.000Z to 2026-03-02T00:00:00.000Z");
    assert.match(lines[1]!, /^USER +ENV HOURS +CPU HOURS +MEM GiB-h +DISK GiB-h +MEASURED CPU h$/);
    assert.match(lines[2]!, /^ann +2\.00 +4\.00 +8\.00 +40\.00 +0\.25$/);
    assert.match(lines[4]!, /^TOTAL +3\.00 +5\.00 +9\.00 +44\.00 +0\.25$/);
    assert.match(usageTable({ ...report, rows: [] }), /no usage in this period/);
  });

  it("CSV quotes what it must and defuses spreadsheet formulas", () => {
    assert.equal(
      usageCsv(report),
      "key,envSeconds,cpuSeconds,memoryGiBHours,diskGiBHours,measuredCpuSeconds\n" +
        "ann,7200,14400,8,40,900\n" +
        `"'=HYPERLINK(""x""),b",3600,3600,1,4,0\n`,
    );
  });
});

const runner = topRunner("v1");
const stat = envStats;
const envA = makeEnv("a", { id: "a" });
const envB = makeEnv("b", { id: "b" });
const envC = makeEnv("c", { id: "c", state: "stopped" });
const sampleAt = (at: number, stats: EnvStats[]): TopSample => ({
  at,
  envs: [envA, envB, envC],
  stats,
  runner,
});

describe("top snapshot", () => {
  const prev = sampleAt(0, [
    stat("a", { networkReceiveBytes: 1000, networkTransmitBytes: 0 }),
    stat("b", { networkReceiveBytes: 50 }),
  ]);
  const cur = sampleAt(2000, [
    stat("a", {
      cpuCores: 0.5,
      memoryWorkingSetBytes: GiB,
      networkReceiveBytes: 5000,
      networkTransmitBytes: 2048,
    }),
    stat("b", {
      cpuCores: 1.5,
      memoryWorkingSetBytes: GiB / 2,
      psi: { cpu: 40, memory: 1, io: 0 },
      networkReceiveBytes: 10,
    }),
  ]);

  it("rates come from two samples; a counter that went back, or a first sample, has none", () => {
    const s = topSnapshot(cur, prev, "cpu");
    const a = s.environments.find((r) => r.name === "a")!;
    assert.equal(a.rxBytesPerSecond, 2000);
    assert.equal(a.txBytesPerSecond, 1024);
    assert.equal(a.memoryPercent, 50);
    assert.equal(a.cpuPercent, Math.round((1000 * 0.5) / envA.spec.resources.cpus) / 10);
    assert.equal(s.environments.find((r) => r.name === "b")!.rxBytesPerSecond, null, "counter restarted");
    assert.equal(topSnapshot(cur, undefined, "cpu").environments[0]!.rxBytesPerSecond, null);
  });

  it("sorts by cpu, memory or pressure, stopped ones last; the runner sums allocation and use", () => {
    const names = (sort: "cpu" | "mem" | "psi") =>
      topSnapshot(cur, prev, sort).environments.map((r) => r.name);
    assert.deepEqual(names("cpu"), ["b", "a", "c"]);
    assert.deepEqual(names("mem"), ["a", "b", "c"]);
    assert.deepEqual(names("psi"), ["b", "a", "c"]);
    const [r] = topSnapshot(cur, prev, "cpu").runners;
    assert.equal(r!.running, 2);
    assert.equal(r!.allocatedCpus, envA.spec.resources.cpus + envB.spec.resources.cpus);
    assert.equal(r!.usedCores, 2);
    assert.equal(r!.usedMemoryBytes, 1.5 * GiB);
  });

  it("the screen fits the terminal", () => {
    const s = topSnapshot(cur, prev, "cpu");
    const full = renderTop(s, { width: 1000, height: 1000 });
    assert.match(full.join("\n"), /\nb +running +1\.50\/\d/);
    assert.match(full.join("\n"), /\nc +stopped +- +-/);
    const small = renderTop(s, { width: 30, height: 6 });
    assert.equal(small.length, 6);
    for (const l of small) assert.ok(l.length <= 30, l);
    assert.match(small.at(-1)!, /^\.\.\. \d+ more$/);
  });
});

describe("the CLI", () => {
  let d: FakeDaemon;
  const cli = (args: string[]) => runCli(args, { env: { WARREN_SOCKET: d.socket } });
  before(async () => {
    d = await startFakeDaemon();
  });
  after(() => d.close());
  beforeEach(() => d.reset());
  const json = (value: unknown) => (_b: string, res: ServerResponse) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify(value));
  };

  it("usage sends the window and grouping, and prints CSV", async () => {
    d.override.set("GET /api/v1/usage", json(report));
    const r = await cli([
      "usage",
      "--since",
      "2026-03-01",
      "--until",
      "2026-03-02T00:00:00Z",
      "--by",
      "project",
      "--csv",
    ]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, usageCsv(report));
    const asked = d.requests.find((q) => q.url.startsWith("/api/v1/usage"))!;
    assert.equal(
      asked.url,
      "/api/v1/usage?since=2026-03-01T00%3A00%3A00.000Z&until=2026-03-02T00%3A00%3A00.000Z&by=project",
    );
  });

  it("usage refuses a bad --by or --since before asking", async () => {
    for (const args of [
      ["--by", "team"],
      ["--since", "last tuesday"],
    ]) {
      const r = await cli(["usage", ...args]);
      assert.equal(r.status, 1);
      assert.match(
        r.stderr,
        /^warren: (by "team": expected one of user, project, class, org|--since "last tuesday": expected a duration)/,
      );
    }
    assert.equal(d.requests.filter((q) => q.url.startsWith("/api/v1/usage")).length, 0);
  });

  it("top --once --json prints one snapshot; a --runner that is not this one is refused", async () => {
    d.envs.set("a", envA);
    d.override.set("GET /api/v1/runner", json(runner));
    d.override.set("GET /api/v1/stats", json({ items: [stat("a", { cpuCores: 0.25 })] }));
    const r = await cli(["top", "--once", "--json", "--sort", "mem"]);
    assert.equal(r.status, 0, r.stderr);
    const snap = JSON.parse(r.stdout);
    assert.equal(snap.sort, "mem");
    assert.deepEqual(
      snap.environments.map((e: { name: string; cpuCores: number }) => [e.name, e.cpuCores]),
      [["a", 0.25]],
    );
    assert.equal(snap.runners[0].hostname, "host1");
    const other = await cli(["top", "--once", "--runner", "elsewhere"]);
    assert.equal(other.status, 1);
    assert.match(other.stderr, /--runner elsewhere: this organisation's environments run on local \(host1\)/);
    const bad = await cli(["top", "--once", "--sort", "disk"]);
    assert.match(bad.stderr, /--sort "disk": expected one of cpu, mem, psi/);
  });
});
