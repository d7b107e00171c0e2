// The host guard: unschedulable on low memory available, high host memory pressure or low free
// disk, and schedulable again only after 5 minutes below every threshold (on an injected clock).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  HostGuard,
  type HostGuardReading,
  hostShortage,
  readHostMemoryPressure,
} from "../src/metrics/host-guard.ts";

const GiB = 1024 ** 3;
const healthy: HostGuardReading = {
  usage: { memoryTotalBytes: 24 * GiB, memoryAvailableBytes: 20 * GiB },
  memoryPressureFullAvg10: 0,
  disk: { freeBytes: 80 * GiB, floorBytes: 5 * GiB },
};
const withMem = (availGiB: number): HostGuardReading => ({
  ...healthy,
  usage: { ...healthy.usage, memoryAvailableBytes: availGiB * GiB },
});

describe("host guard", () => {
  it("names each shortage: memory below max(1 GiB, 5 %), pressure, disk below the floor", () => {
    assert.equal(hostShortage(healthy), undefined);
    // 5 % of 24 GiB is 1.2 GiB, above 1 GiB: 1.1 GiB available is short, 1.3 is not.
    assert.match(
      hostShortage(withMem(1.1)) ?? "",
      /memory available 1\.1 GiB is below the floor of 1\.2 GiB/,
    );
    assert.equal(hostShortage(withMem(1.3)), undefined);
    // A small host: the 1 GiB floor wins over 5 %.
    const small = { ...healthy, usage: { memoryTotalBytes: 4 * GiB, memoryAvailableBytes: 0.9 * GiB } };
    assert.match(hostShortage(small) ?? "", /below the floor of 1\.0 GiB/);
    assert.match(
      hostShortage({ ...healthy, memoryPressureFullAvg10: 12.5 }) ?? "",
      /host memory pressure is high: all tasks stalled on memory 12\.5% of the last 10 s \(limit 10%\)/,
    );
    assert.equal(hostShortage({ ...healthy, memoryPressureFullAvg10: 9.9 }), undefined);
    assert.equal(
      hostShortage({ ...healthy, memoryPressureFullAvg10: null }),
      undefined,
      "no PSI: no verdict",
    );
    assert.match(
      hostShortage({ ...healthy, disk: { freeBytes: 4 * GiB, floorBytes: 5 * GiB } }) ?? "",
      /disk free 4\.0 GiB is below the reserve of 5\.0 GiB/,
    );
    const all = hostShortage({
      usage: { memoryTotalBytes: 24 * GiB, memoryAvailableBytes: 0.5 * GiB },
      memoryPressureFullAvg10: 50,
      disk: { freeBytes: 1 * GiB, floorBytes: 5 * GiB },
    });
    assert.equal(all?.split("; ").length, 3, all);
  });

  it("turns schedulable again only after 5 minutes below every threshold", () => {
    let t = 1_000_000;
    const guard = new HostGuard({ now: () => t });
    assert.equal(guard.check(healthy), undefined, "never short: schedulable");
    assert.match(guard.check(withMem(0.5)) ?? "", /memory available/);
    t += 60_000;
    // Recovered a minute later, but still held back, saying why and for how long.
    const held = guard.check(healthy);
    assert.match(held ?? "", /^recovering: memory available 0\.5 GiB .*schedulable again after 5 minutes/);
    assert.match(held ?? "", /in 240 s\)$/);
    // Short again at 4 minutes: the 5 minutes count from this last shortage.
    t += 3 * 60_000;
    assert.match(guard.check({ ...healthy, memoryPressureFullAvg10: 30 }) ?? "", /pressure is high/);
    t += 4 * 60_000 + 59_000;
    assert.match(guard.check(healthy) ?? "", /^recovering: host memory pressure .*in 1 s\)$/);
    t += 1000;
    assert.equal(guard.check(healthy), undefined, "5 minutes below: schedulable");
    assert.equal(guard.check(healthy), undefined);
  });

  it("reads the host's memory pressure from /proc/pressure/memory, or null without PSI", () => {
    const text =
      "some avg10=31.50 avg60=3.00 avg300=1.00 total=100\nfull avg10=12.25 avg60=1.00 avg300=0.50 total=50\n";
    assert.equal(
      readHostMemoryPressure(() => text),
      12.25,
    );
    assert.equal(
      readHostMemoryPressure(() => {
        throw Object.assign(new Error("no such file"), { code: "ENOENT" });
      }),
      null,
    );
    // This host's own file parses (PSI is on here).
    const real = readHostMemoryPressure();
    assert.ok(real === null || (real >= 0 && real <= 100), String(real));
  });
});
