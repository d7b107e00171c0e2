import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { jsonLogWriter, parseLogLine } from "../src/log-json.ts";

describe("logs --json lines", () => {
  it("tells Warren's events (with their time) from init output (without one)", () => {
    assert.deepEqual(parseLogLine("[warren 2026-01-31T12:00:00.123Z] stopped (exit 0)"), {
      time: "2026-01-31T12:00:00.123Z",
      source: "warren",
      line: "stopped (exit 0)",
    });
    assert.deepEqual(parseLogLine("[warren] log stream closed: expired"), {
      time: null,
      source: "warren",
      line: "log stream closed: expired",
    });
    for (const text of ["npm start", "[warrens] not ours", " [warren 2026-01-31T12:00:00Z] indented", ""]) {
      assert.deepEqual(parseLogLine(text), { time: null, source: "init", line: text });
    }
  });

  it("writes one object per complete line, whatever the chunks, and the unfinished last at end()", () => {
    const out: string[] = [];
    const w = jsonLogWriter((s) => out.push(s));
    w.push("a");
    w.push("b\r\nc\n\n[warren 2026-01-31T12:00:00.000Z] st");
    assert.equal(out.length, 3);
    w.push("arted\nd");
    w.end();
    assert.deepEqual(
      out.map((l) => {
        assert.ok(l.endsWith("\n") && !l.slice(0, -1).includes("\n"));
        return JSON.parse(l).line;
      }),
      ["ab", "c", "", "started", "d"],
    );
  });
});
