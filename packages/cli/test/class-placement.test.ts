// `warren class create --require-label K=V (repeatable) --cpu-overcommit N --memory-overcommit N`
// against the real control plane in process: the request carries them, `class ls` shows them in
// its LABELS and OVERCOMMIT columns and `--json`, and bad values are refused before a request,
// naming the rule or the bounds, so no class is made.
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

const cli = (args: string[]) => runCli(args, { env: { WARREN_SOCKET: d.socket } });
const classNames = async () => (await d.h.classes.list(ROOT)).map((c) => c.name).sort();
const create = ["class", "create", "zb", "--cpus", "1", "--memory", "256m", "--disk", "1g"];

describe("class placement options", () => {
  it("refuses bad labels and ratios with the rule or the bounds, and makes no class", async () => {
    for (const [extra, message] of [
      [
        ["--memory-overcommit", "2"],
        /memory overcommit 2 is out of bounds: use a number from 1 to 1\.5 \(at most 1\.5/,
      ],
      [
        ["--memory-overcommit", "lots"],
        /memory overcommit lots is out of bounds: use a number from 1 to 1\.5/,
      ],
      [["--cpu-overcommit", "100"], /cpu overcommit 100 is out of bounds: use a number from 1 to 64/],
      [["--require-label", "zone"], /--require-label "zone" must be KEY=VALUE/],
      [["--require-label", "Zone=b"], /required label "Zone=b" is not KEY=VALUE/],
      [
        ["--require-label", "zone=a", "--require-label", "zone=b"],
        /--require-label zone is given twice \(a and b\)/,
      ],
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
      "--require-label",
      "zone=b",
      "--require-label",
      "gpu=none",
      "--cpu-overcommit",
      "2",
      "--memory-overcommit",
      "1.5",
    ]);
    assert.equal(r.status, 0, r.stderr);
    const stored = (await d.h.classes.list(ROOT)).find((c) => c.name === "zb");
    assert.deepEqual(
      [stored?.requiredLabels, stored?.cpuOvercommit, stored?.memoryOvercommit],
      [{ zone: "b", gpu: "none" }, 2, 1.5],
    );

    const ls = await cli(["class", "ls"]);
    assert.equal(ls.status, 0, ls.stderr);
    const [header, ...rows] = ls.stdout.trimEnd().split("\n");
    const cols = header!.split(/\s{2,}/);
    const cell = (row: string, col: string) => row.split(/\s{2,}/)[cols.indexOf(col)];
    assert.ok(cols.includes("LABELS") && cols.includes("OVERCOMMIT"), header);
    const zb = rows.find((row) => row.startsWith("zb "))!;
    const builtin = rows.find((row) => row.startsWith("default"))!;
    assert.equal(cell(zb, "LABELS"), "zone=b,gpu=none");
    assert.equal(cell(zb, "OVERCOMMIT"), "cpu 2 mem 1.5 disk 4");
    assert.equal(cell(builtin, "LABELS"), "-");
    assert.equal(cell(builtin, "OVERCOMMIT"), "cpu 4 mem 1 disk 4");

    const json = JSON.parse((await cli(["class", "ls", "--json"])).stdout) as ClassSpec[];
    const j = json.find((c) => c.name === "zb")!;
    assert.deepEqual(
      {
        requiredLabels: j.requiredLabels,
        cpuOvercommit: j.cpuOvercommit,
        memoryOvercommit: j.memoryOvercommit,
      },
      { requiredLabels: { zone: "b", gpu: "none" }, cpuOvercommit: 2, memoryOvercommit: 1.5 },
    );
  });
});
