// Memory pressure in the environment's log: PSI memory "full" avg10 above 20 % for 3 samples in a
// row raises one event, a sample at or below eases it, and nothing else happens (no kill).
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { MemoryPressureWatch, PressureTracker } from "../src/logs/memory-pressure.ts";

describe("memory pressure events", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "warren-pressure-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("raises after 3 samples in a row above 20 %, once, and eases below", () => {
    const t = new PressureTracker();
    const run = (xs: (number | null)[]) => xs.map((x) => t.sample("a", x)?.kind ?? "-").join(" ");
    // Two above, one at the threshold (not above) restarts the count.
    assert.equal(run([25, 30, 20, 21, 22]), "- - - - -");
    assert.equal(run([40]), "raised");
    assert.equal(run([50, 60]), "- -", "raised once, not every sample");
    assert.equal(run([5]), "eased");
    assert.equal(run([5, 25, 25]), "- - -");
    // No PSI (stopped, or a new group) forgets the run.
    assert.equal(run([null, 25, 25, 25]), "- - - raised");
    // Environments are counted apart.
    assert.equal(t.sample("b", 99), null);
  });

  it("logs the event from the group's memory.pressure, naming the figure and what to do", async () => {
    const unified = path.join(dir, "unified");
    await mkdir(unified);
    const log = path.join(dir, "console.log");
    const psi = (full: number) =>
      writeFile(
        path.join(unified, "memory.pressure"),
        `some avg10=${full + 5} avg60=1.00 avg300=0.50 total=10\nfull avg10=${full} avg60=1.00 avg300=0.50 total=5\n`,
      );
    const watch = new MemoryPressureWatch({ paths: () => ({ unified }) }, { maxBytes: 1 << 20, keep: 0 });
    const target = { id: "0123456789ab", cgroupPath: "/x", logFile: log };
    const lines: (string | null)[] = [];
    for (const full of [35, 36.5, 37.25]) {
      await psi(full);
      lines.push(await watch.check(target));
    }
    assert.deepEqual(lines.slice(0, 2), [null, null]);
    assert.match(
      lines[2] ?? "",
      /^memory pressure: all its processes were stalled waiting for memory 37\.3% of the last 10 s \(above 20% for 3 samples in a row\); nothing is killed/,
    );
    await psi(3);
    assert.equal(await watch.check(target), "memory pressure eased: stalled 3.0% of the last 10 s");
    const text = await readFile(log, "utf8");
    assert.equal(text.split("\n").filter(Boolean).length, 2, text);
    // A group without the file (PSI off) gives nothing.
    await rm(path.join(unified, "memory.pressure"));
    assert.equal(await watch.check(target), null);
  });
});
