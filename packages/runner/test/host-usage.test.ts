// The host's live usage: CPU EWMA from /proc/stat deltas (time-weighted), memory working set
// from /proc/meminfo, and the unschedulable reasons.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  Ewma,
  HostUsage,
  memoryFloorBytes,
  parseMeminfo,
  parseProcStat,
  unschedulableReason,
} from "../src/metrics/host-usage.ts";

const GiB = 1024 ** 3;
/** A /proc/stat whose aggregate line has `busy` and `idle` ticks (split over user/system and idle/iowait). */
const stat = (busy: number, idle: number) =>
  `cpu  ${busy - 10} 0 10 ${idle - 5} 5 0 0 0 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\nintr 1 2\n`;
const meminfo = (totalKiB: number, availKiB: number) =>
  `MemTotal:       ${totalKiB} kB\nMemFree:         1000 kB\nMemAvailable:   ${availKiB} kB\nBuffers: 1 kB\n`;

describe("host usage", () => {
  it("parses /proc/stat (idle + iowait are idle) and /proc/meminfo", () => {
    assert.deepEqual(parseProcStat(stat(300, 700)), { busy: 300, total: 1000 });
    assert.deepEqual(parseMeminfo(meminfo(1024, 256)), {
      totalBytes: 1024 * 1024,
      availableBytes: 256 * 1024,
    });
    assert.throws(() => parseProcStat("intr 1\n"), /no aggregate cpu line/);
    assert.throws(() => parseMeminfo("MemTotal: 5 kB\n"), /no MemAvailable/);
  });

  it("the EWMA weighs a sample by the time since the last (tau = 60 s)", () => {
    const e = new Ewma(60_000);
    assert.equal(e.add(0, 0), 0);
    // One time constant at 2 cores: 1 - 1/e of the way there.
    assert.ok(Math.abs(e.add(2, 60_000) - 2 * (1 - Math.exp(-1))) < 1e-9);
    // Five 1 s samples move it far less than one 60 s sample would.
    const f = new Ewma(60_000);
    f.add(0, 0);
    for (let i = 0; i < 5; i++) f.add(2, 1_000);
    assert.ok(f.value! > 0.15 && f.value! < 0.17, String(f.value));
  });

  it("a burst moves the average a little; a sustained load moves it to the load", () => {
    let t = 0;
    let busy = 0;
    let idle = 0;
    const u = new HostUsage({
      cpus: 4,
      intervalMs: 5_000,
      readStat: () => stat(busy + 10, idle + 5),
      readMeminfo: () => meminfo(16 * 1024 * 1024, 4 * 1024 * 1024),
      now: () => t,
    });
    const tick = (share: number) => {
      t += 5_000;
      busy += 1000 * share;
      idle += 1000 * (1 - share);
      return u.sample();
    };
    u.sample(); // baseline
    for (let i = 0; i < 24; i++) tick(0.25); // 2 minutes at one core of four
    assert.ok(Math.abs(u.read().cpuEwmaCores - 1) < 0.01, String(u.read().cpuEwmaCores));
    const afterBurst = tick(1); // 5 s of all four cores
    assert.ok(afterBurst > 1.2 && afterBurst < 1.3, `one 5 s burst: ${afterBurst}`);
    for (let i = 0; i < 60; i++) tick(1); // 5 minutes flat out
    assert.ok(u.read().cpuEwmaCores > 3.9, String(u.read().cpuEwmaCores));
    const r = u.read();
    assert.equal(r.memoryWorkingSetBytes, 12 * GiB);
    assert.equal(r.memoryAvailableBytes, 4 * GiB);
  });

  it("reads this host's real /proc", () => {
    const u = new HostUsage({ cpus: 2 });
    u.sample();
    const r = u.read();
    assert.ok(r.memoryTotalBytes > 0 && r.memoryAvailableBytes <= r.memoryTotalBytes);
    assert.equal(r.memoryWorkingSetBytes, r.memoryTotalBytes - r.memoryAvailableBytes);
    assert.ok(r.cpuEwmaCores >= 0 && r.cpuEwmaCores <= 2);
  });

  it("unschedulable says which: memory below max(1 GiB, 5%), disk below the reserve", () => {
    assert.equal(memoryFloorBytes(8 * GiB), GiB);
    assert.equal(memoryFloorBytes(100 * GiB), 5 * GiB);
    const disk = { freeBytes: 50 * GiB, reserveBytes: 2 * GiB };
    assert.equal(
      unschedulableReason({ memoryTotalBytes: 8 * GiB, memoryAvailableBytes: 2 * GiB }, disk),
      undefined,
    );
    assert.match(
      unschedulableReason({ memoryTotalBytes: 100 * GiB, memoryAvailableBytes: 4 * GiB }, disk) ?? "",
      /^memory available 4\.0 GiB is below the floor of 5\.0 GiB$/,
    );
    const both = unschedulableReason(
      { memoryTotalBytes: 8 * GiB, memoryAvailableBytes: 0.5 * GiB },
      { freeBytes: GiB, reserveBytes: 2 * GiB },
    );
    assert.match(
      both ?? "",
      /memory available 0\.5 GiB .*; disk free 1\.0 GiB is below the reserve of 2\.0 GiB/,
    );
  });
});
