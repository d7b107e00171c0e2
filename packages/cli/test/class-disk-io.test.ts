// `warren class create --disk-overcommit N --read-bps R --write-bps R --read-iops N --write-iops N`
// against the real control plane in process: the request carries them, `class ls` shows them in
// its OVERCOMMIT and DISK I/O columns and `--json`, and bad values are refused before a request,
// naming the flag and its bounds, so no class is made.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { ClassSpec } from "@warren/protocol";
import { type InprocDaemon, startInprocDaemon } from "@warren/testing/inproc-daemon";
import { ROOT } from "@warren/testing/server-harness";
import { runCli } from "./fake-daemon.ts";

let d: InprocDaemon;
before(async () => {
  d = await startInprocDaemon();
});
after(() => d?.close());

const MiB = 1024 ** 2;
const cli = (args: string[]) => runCli(args, { env: { WARREN_SOCKET: d.socket } });
const classNames = async () => (await d.h.classes.list(ROOT)).map((c) => c.name).sort();
const create = ["class", "create", "ci", "--cpus", "1", "--memory", "256m", "--disk", "1g"];

describe("class disk options", () => {
  it("refuses bad ratios and limits with the flag and its bounds, and makes no class", async () => {
    for (const [extra, message] of [
      [["--disk-overcommit", "0.5"], /disk overcommit 0\.5 is out of bounds: use a number from 1 to 64/],
      [["--disk-overcommit", "lots"], /disk overcommit lots is out of bounds/],
      [["--write-bps", "fast"], /--write-bps "fast" is not a rate/],
      [["--read-bps", "10k"], /--read-bps 10240 is out of bounds: use 1Mi to 1Ti per second/],
      [["--write-iops", "0"], /--write-iops 0 is out of bounds: use a whole number from 10/],
    ] as const) {
      const r = await cli([...create, ...extra]);
      assert.equal(r.status, 1, `${extra.join(" ")}: ${r.stdout}`);
      assert.match(r.stderr, message);
    }
    assert.deepEqual(await classNames(), ["default"]);
  });

  it("class create stores them; class ls shows them in columns and --json", async () => {
    const r = await cli([
      ...create,
      "--disk-overcommit",
      "1",
      "--read-bps",
      "100M",
      "--write-bps",
      "50m",
      "--write-iops",
      "2000",
    ]);
    assert.equal(r.status, 0, r.stderr);
    const stored = (await d.h.classes.list(ROOT)).find((c) => c.name === "ci");
    assert.deepEqual(
      [stored?.diskOvercommit, stored?.ioLimits],
      [1, { readBps: 100 * MiB, writeBps: 50 * MiB, writeIops: 2000 }],
    );

    const ls = await cli(["class", "ls"]);
    assert.equal(ls.status, 0, ls.stderr);
    const [header, ...rows] = ls.stdout.trimEnd().split("\n");
    const cols = header!.split(/\s{2,}/);
    const cell = (row: string, col: string) => row.split(/\s{2,}/)[cols.indexOf(col)];
    const ci = rows.find((row) => row.startsWith("ci "))!;
    const builtin = rows.find((row) => row.startsWith("default"))!;
    assert.equal(cell(ci, "OVERCOMMIT"), "cpu 4 mem 1 disk 1");
    assert.equal(cell(ci, "DISK I/O"), "r 100Mi/s w 50Mi/s w 2000 IOPS");
    assert.equal(cell(builtin, "OVERCOMMIT"), "cpu 4 mem 1 disk 4");
    assert.equal(cell(builtin, "DISK I/O"), "-");

    const json = JSON.parse((await cli(["class", "ls", "--json"])).stdout) as ClassSpec[];
    const j = json.find((c) => c.name === "ci")!;
    assert.deepEqual(
      { diskOvercommit: j.diskOvercommit, ioLimits: j.ioLimits },
      { diskOvercommit: 1, ioLimits: { readBps: 100 * MiB, writeBps: 50 * MiB, writeIops: 2000 } },
    );
    assert.deepEqual(json.find((c) => c.name === "default")?.ioLimits, {});
  });
});
