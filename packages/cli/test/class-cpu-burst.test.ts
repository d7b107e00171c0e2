// `warren class create --cpu-burst N` against the real control plane in process: the request
// carries it, `class ls` shows it in its BURST column ("default" where the class sets none: the
// runner's 2 × cpus) and in `--json`, and a bad value is refused, by the CLI before a request and
// by the server for a request that skips the CLI, naming the flag and its bounds, with no class made.
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
const create = ["class", "create", "build", "--cpus", "1", "--memory", "256m", "--disk", "1g"];

describe("class --cpu-burst", () => {
  it("refuses a burst below the class's cpus, above 64 or not a number, and makes no class", async () => {
    for (const [value, message] of [
      [
        "0.5",
        /--cpu-burst 0\.5 is out of bounds: use a number of cores from the class's --cpus \(1; .*\) to 64/,
      ],
      ["65", /--cpu-burst 65 is out of bounds/],
      ["lots", /--cpu-burst lots is out of bounds/],
    ] as const) {
      const r = await cli([...create, "--cpu-burst", value]);
      assert.equal(r.status, 1, `--cpu-burst ${value}: ${r.stdout}`);
      assert.match(r.stderr, message);
    }
    // A request that skips the CLI's check meets the server's.
    const res = await d.app.inject({
      method: "POST",
      url: "/api/v1/classes",
      payload: { name: "build", cpus: 2, memory: "256m", disk: "1g", cpuBurst: 1.5 },
    });
    assert.equal(res.statusCode, 400, res.body);
    assert.equal(res.json().code, "INVALID_ARGUMENT");
    assert.match(
      res.json().message,
      /--cpu-burst 1\.5 is out of bounds: use a number of cores from the class's --cpus \(2/,
    );
    assert.deepEqual(await classNames(), ["default"]);
  });

  it("class create stores it; class ls shows it in BURST and --json, the default where unset", async () => {
    const r = await cli([...create, "--cpu-burst", "2.5"]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal((await d.h.classes.list(ROOT)).find((c) => c.name === "build")?.cpuBurst, 2.5);

    const ls = await cli(["class", "ls"]);
    assert.equal(ls.status, 0, ls.stderr);
    const [header, ...rows] = ls.stdout.trimEnd().split("\n");
    const cols = header!.split(/\s{2,}/);
    const cell = (row: string, col: string) => row.split(/\s{2,}/)[cols.indexOf(col)];
    assert.ok(cols.includes("BURST"), header);
    assert.equal(cell(rows.find((row) => row.startsWith("build "))!, "BURST"), "2.5");
    assert.equal(cell(rows.find((row) => row.startsWith("default"))!, "BURST"), "default");

    const json = JSON.parse((await cli(["class", "ls", "--json"])).stdout) as ClassSpec[];
    assert.equal(json.find((c) => c.name === "build")?.cpuBurst, 2.5);
    assert.equal(json.find((c) => c.name === "default")?.cpuBurst, null);
  });
});
