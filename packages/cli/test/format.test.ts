import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { describeEnv } from "../src/commands/inspect.ts";
import { changeLine } from "../src/commands/ls.ts";
import { envRow, formatAge, formatCpus, renderTable } from "../src/format.ts";
import { makeEnv } from "./fake-daemon.ts";

describe("formatAge", () => {
  const now = Date.parse("2025-01-10T12:00:00Z");
  const ago = (ms: number) => new Date(now - ms).toISOString();
  for (const [ms, want] of [
    [0, "0s ago"],
    [59_000, "59s ago"],
    [60_000, "1m ago"],
    [5 * 60_000 + 59_000, "5m ago"],
    [34 * 60_000, "34m ago"],
    [59 * 60_000, "59m ago"],
    [2 * 3600_000, "2h ago"],
    [23 * 3600_000 + 59 * 60_000, "23h ago"],
    [24 * 3600_000, "1d ago"],
    [3 * 86400_000 + 5 * 3600_000, "3d ago"],
  ] as const) {
    it(`${ms} ms ago -> ${want}`, () => assert.equal(formatAge(ago(ms), now), want));
  }
  it("clock skew (future) shows 0s ago, garbage shows ?", () => {
    assert.equal(formatAge(new Date(now + 5000).toISOString(), now), "0s ago");
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
      "2h ago",
      "-",
      "-",
    ]);
  });

  it("shows the last use and when idle stop stops it", () => {
    const e = makeEnv("dev");
    const now = Date.parse("2026-02-01T12:00:00Z");
    e.idle = {
      timeoutSeconds: 1800,
      lastActivity: { kind: "ssh", at: "2026-02-01T11:57:00Z", source: "user:u1" },
      stopDeadline: "2026-02-01T12:27:00Z",
    };
    assert.deepEqual(envRow(e, now).slice(-2), ["ssh 3m ago", "in 27m"]);
    e.idle = { timeoutSeconds: null };
    assert.deepEqual(envRow(e, now).slice(-2), ["-", "never"]);
    e.idle = { timeoutSeconds: 3600 };
    assert.deepEqual(envRow(e, now).slice(-2), ["-", "after 1h"]);
    e.desired = "stopped";
    assert.equal(envRow(e, now).at(-1), "-");
  });

  it("inspect shows the idle timeout, the last use and the deadline", () => {
    const e = makeEnv("dev");
    e.idle = {
      timeoutSeconds: 1800,
      lastActivity: { kind: "terminal", at: "2026-02-01T11:57:00Z", source: "user:u1" },
      stopDeadline: "2026-02-01T12:27:00Z",
    };
    const out = describeEnv(e, Date.parse("2026-02-01T12:00:00Z"));
    assert.match(out, /^Idle stop: {3}after 30m unused$/m);
    assert.match(out, /^Last used: {3}2026-02-01T11:57:00Z \(3m ago\): terminal by user:u1$/m);
    assert.match(out, /^Stops at: {4}2026-02-01T12:27:00Z \(in 27m\)$/m);
  });
});

describe("units", () => {
  it("one cpu is singular, every other count plural", () => {
    assert.deepEqual([1, 2, 0.5, 1.5].map(formatCpus), ["1 cpu", "2 cpus", "0.5 cpus", "1.5 cpus"]);
  });

  it("inspect says 1 cpu for a one-cpu environment, in Resources and Limits", () => {
    const e = makeEnv("dev", {
      observed: {
        id: "x",
        state: "running",
        resources: { cpus: 1, memoryBytes: 1024 ** 3, diskBytes: 1024 ** 3, pids: 64 },
      },
    });
    e.spec.resources.cpus = 1;
    const out = describeEnv(e);
    assert.match(out, /^Resources: {3}1 cpu, 2Gi memory, 10Gi disk, 4096 pids$/m);
    assert.match(out, /^ {2}Limits: {4}1 cpu, 1Gi memory, 64 pids$/m);
  });
});

describe("ls --watch change lines", () => {
  it("pad the name to the width given, columns two spaces apart", () => {
    const web = makeEnv("web");
    assert.equal(changeLine("ADDED", web, 4), "ADDED     web   running   desired=running\n");
    assert.equal(changeLine("MODIFIED", web), "MODIFIED  web  running   desired=running\n");
  });
});
