import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { describeProgress, progressDisplay } from "../src/progress.ts";

const sink = (isTTY: boolean) => {
  const out = { isTTY, text: "", write: (s: string) => (out.text += s) };
  return out;
};

describe("describeProgress", () => {
  it("shows bytes done of total with a percentage, or bytes alone", () => {
    assert.equal(
      describeProgress({ phase: "layer 1/3", message: "copying", current: 512 * 1024, total: 2 * 1024 ** 2 }),
      "layer 1/3: copying 512Ki/2Mi (25%)",
    );
    assert.equal(
      describeProgress({ phase: "fetch", message: "debs", current: 3 * 1024 ** 2 }),
      "fetch: debs 3Mi",
    );
    assert.equal(describeProgress({ phase: "done", message: "ok" }), "done: ok");
  });
});

describe("progressDisplay", () => {
  it("on a TTY rewrites one line per phase and ends each phase's line", () => {
    let t = 0;
    const out = sink(true);
    const p = progressDisplay(out, { now: () => t, intervalMs: 100 });
    p.update({ phase: "a", message: "1" });
    t = 200;
    p.update({ phase: "a", message: "2" });
    p.update({ phase: "b", message: "1" });
    p.finish();
    assert.equal(out.text, "\r\x1b[Ka: 1\r\x1b[Ka: 2\n\r\x1b[Kb: 1\n");
  });

  it("without a TTY prints plain lines, throttled, but always the last state of a phase", () => {
    let t = 0;
    const out = sink(false);
    const p = progressDisplay(out, { now: () => t, intervalMs: 1000 });
    p.update({ phase: "layer", message: "x", current: 1, total: 4 });
    for (let i = 2; i <= 4; i++) {
      t += 10; // fast updates inside the interval are held back
      p.update({ phase: "layer", message: "x", current: i, total: 4 });
    }
    p.update({ phase: "index", message: "writing" });
    p.finish();
    assert.deepEqual(out.text.split("\n"), [
      "layer: x 1/4 (25%)",
      "layer: x 4/4 (100%)",
      "index: writing",
      "",
    ]);
  });
});
