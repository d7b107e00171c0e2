import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseDuration, parseTimeBound } from "../src/time-bound.ts";

describe("parseTimeBound (--since, --until)", () => {
  const now = Date.parse("2026-01-31T12:00:00Z");

  it("takes a duration back from now", () => {
    for (const [input, want] of [
      ["90s", "2026-01-31T11:58:30.000Z"],
      ["30m", "2026-01-31T11:30:00.000Z"],
      ["2h", "2026-01-31T10:00:00.000Z"],
      ["1d", "2026-01-30T12:00:00.000Z"],
      ["1w", "2026-01-24T12:00:00.000Z"],
      ["1h30m", "2026-01-31T10:30:00.000Z"],
      ["2H", "2026-01-31T10:00:00.000Z"],
    ] as const) {
      assert.equal(parseTimeBound(input, "--since", now), want, input);
    }
  });

  it("takes an ISO-8601 time, normalised to UTC", () => {
    assert.equal(parseTimeBound("2026-01-31T12:00:00Z", "--since", now), "2026-01-31T12:00:00.000Z");
    assert.equal(parseTimeBound("2026-01-31T14:00:00+02:00", "--until", now), "2026-01-31T12:00:00.000Z");
    assert.equal(parseTimeBound("2026-01-30", "--since", now), "2026-01-30T00:00:00.000Z");
  });

  it("refuses anything else, naming the flag and both forms", () => {
    for (const bad of ["yesterday", "5", "2 hours", "-2h", "h", "May", "2026-13-45"]) {
      assert.throws(
        () => parseTimeBound(bad, "--until", now),
        (e: Error) =>
          e.message ===
          `invalid --until "${bad}": use a duration back from now such as 30m, 2h or 1d, or an ISO-8601 time such as 2026-01-31T12:00:00Z`,
        bad,
      );
    }
  });

  it("parseDuration is undefined for what is not a duration", () => {
    assert.equal(parseDuration("2h"), 7_200_000);
    assert.equal(parseDuration("2026-01-31"), undefined);
    assert.equal(parseDuration(""), undefined);
  });
});
