import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { envRow, formatAge, renderTable } from "../src/format.ts";
import { makeEnv } from "./fake-daemon.ts";

describe("formatAge", () => {
  const now = Date.parse("2025-01-10T12:00:00Z");
  const ago = (ms: number) => new Date(now - ms).toISOString();
  for (const [ms, want] of [
    [0, "0s"],
    [59_000, "59s"],
    [60_000, "1m"],
    [5 * 60_000 + 59_000, "5m"],
    [59 * 60_000, "59m"],
    [2 * 3600_000, "2h"],
    [23 * 3600_000 + 59 * 60_000, "23h"],
    [24 * 3600_000, "1d"],
    [3 * 86400_000 + 5 * 3600_000, "3d"],
  ] as const) {
    it(`${ms} ms ago -> ${want}`, () => assert.equal(formatAge(ago(ms), now), want));
  }
  it("clock skew (future) shows 0s, garbage shows ?", () => {
    assert.equal(formatAge(new Date(now + 5000).toISOString(), now), "0s");
    assert.equal(formatAge("yesterday-ish", now), "?");
  });
});

describe("renderTable", () => {
  it("pads every column but the last to its widest cell, two spaces apart", () => {
    const out = renderTable(
      ["NAME", "STATE", "AGE"],
      [
        ["a", "running", "5m"],
        ["longer-name", "stopped", "12d"],
      ],
    );
    assert.equal(out, "NAME         STATE    AGE\na            running  5m\nlonger-name  stopped  12d\n");
  });
  it("prints just the header for no rows", () => {
    assert.equal(renderTable(["A", "B"], []), "A  B\n");
  });
});

describe("envRow", () => {
  it("formats sizes in binary units and the age", () => {
    const e = makeEnv("dev");
    e.spec.resources.memoryBytes = 1536 * 1024 ** 2;
    assert.deepEqual(envRow(e, Date.parse(e.createdAt) + 2 * 3600_000), [
      "dev",
      "running",
      "default",
      "warren/debian:bookworm",
      "runc",
      "2",
      "1.5Gi",
      "10Gi",
      "2h",
    ]);
  });
});
