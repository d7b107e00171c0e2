// Who a connecting runner is (runners/runner-identity.ts) and which heartbeat reports are written
// (runners/report-change.ts): pure tables.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { RunnerInfo } from "@warren/protocol";
import { capacityChanged, reportMatters } from "../src/runners/report-change.ts";
import {
  AttachRefused,
  checkTokenBinding,
  defaultRunnerName,
  planIdentity,
} from "../src/runners/runner-identity.ts";
import type { Namesake } from "../src/store/queries/runners.ts";

const other = (o: Partial<Namesake>): Namesake => ({
  id: "old",
  name: "r1",
  hostId: null,
  replica: null,
  seenAt: "2024-01-01T00:00:00.000Z",
  envs: 0,
  ...o,
});

test("planIdentity: move, forget, replace or refuse", () => {
  const rows: [string, { hostId?: string; n: Partial<Namesake>; live?: boolean; here?: boolean }, string][] =
    [
      ["dead namesake, no host ids: same host as before names", { n: { envs: 2 } }, "move,forget"],
      [
        "dead, same host id under another name",
        { hostId: "h1", n: { name: "x", hostId: "h1" } },
        "move,forget",
      ],
      ["dead, another host, empty: its row goes", { hostId: "h2", n: { hostId: "h1" } }, "forget"],
      ["dead, another host with environments", { hostId: "h2", n: { hostId: "h1", envs: 1 } }, "refused"],
      ["live namesake", { n: {}, live: true }, "refused"],
      [
        "live, same host, held here: replaced",
        { hostId: "h1", n: { hostId: "h1" }, live: true, here: true },
        "replace,move,forget",
      ],
      ["live, same host, held elsewhere", { hostId: "h1", n: { hostId: "h1" }, live: true }, "refused"],
    ];
  for (const [why, p, want] of rows) {
    let got: string;
    try {
      const plan = planIdentity({
        name: "r1",
        hostId: p.hostId,
        namesakes: [other(p.n)],
        live: () => p.live ?? false,
        heldHere: () => p.here ?? false,
      });
      got = [
        plan.replace.length ? "replace" : "",
        plan.moveFrom.length ? "move" : "",
        plan.forget.length ? "forget" : "",
      ]
        .filter(Boolean)
        .join(",");
    } catch (err) {
      assert.ok(err instanceof AttachRefused, why);
      assert.ok(Buffer.byteLength(err.message) <= 123, `${why}: fits a close reason`);
      got = "refused";
    }
    assert.equal(got, want, why);
  }
});

test("checkTokenBinding: a token serves the host that first used it", () => {
  const bound = (hostId: string | null, name: string | null = "build-01") => ({
    hostId,
    name,
    hostname: "Build-01.example.com",
  });
  const rows: [string, ReturnType<typeof bound> | undefined, string | undefined, string][] = [
    ["a new token (no row yet)", undefined, "hosta1234", "ok"],
    ["a row from before host ids", bound(null), "hosta1234", "ok"],
    ["the same host again", bound("hosta1234"), "hosta1234", "ok"],
    ["another host", bound("hosta1234"), "hostb5678", "refused"],
    ["a hello without a host id", bound("hosta1234"), undefined, "refused"],
  ];
  for (const [why, row, hostId, want] of rows) {
    let got = "ok";
    try {
      checkTokenBinding(row, hostId);
    } catch (err) {
      assert.ok(err instanceof AttachRefused, why);
      assert.match(
        err.message,
        /^this runner token is already bound to host build-01; mint a new one with `warren admin runner-token create`$/,
        why,
      );
      got = "refused";
    }
    assert.equal(got, want, why);
  }
  // Named by the runner's name (or its hostname as a label), never by the id the check compares,
  // and cut so the fix still fits a close reason.
  const secretId = "0123456789abcdef0123456789abcdef";
  const long = () =>
    checkTokenBinding({ hostId: secretId, name: "n".repeat(63), hostname: "h" }, "other1234");
  assert.throws(
    long,
    (err: Error) => Buffer.byteLength(err.message) <= 123 && /runner-token create`$/.test(err.message),
  );
  assert.throws(
    () => checkTokenBinding({ hostId: secretId, name: null, hostname: "Build-01.example.com" }, "other1234"),
    (err: Error) => /bound to host build-01;/.test(err.message) && !err.message.includes(secretId),
  );
});

test("default names are DNS labels from the hostname", () => {
  assert.equal(defaultRunnerName("Build_Host.example.com"), "build-host");
  assert.equal(defaultRunnerName("--x--"), "x");
  assert.equal(defaultRunnerName("."), "runner");
  assert.equal(defaultRunnerName("a".repeat(80)).length, 63);
});

test("reportMatters: only what placement elsewhere would decide differently with", () => {
  const base: RunnerInfo = {
    id: "r",
    hostname: "h",
    runtimes: ["runc"],
    cpus: 4,
    memoryBytes: 1000,
    diskFreeBytes: 1000,
    cgroupMode: "v2",
    idRange: { start: 0, size: 65536 },
    labels: { zone: "a" },
    usage: { cpuEwmaCores: 1, memoryWorkingSetBytes: 500, memoryAvailableBytes: 500 },
  };
  const u = (x: Partial<NonNullable<RunnerInfo["usage"]>>) => ({ ...base, usage: { ...base.usage!, ...x } });
  const rows: [string, RunnerInfo, boolean][] = [
    ["nothing moved", { ...base }, false],
    ["cpu usage within a tenth of capacity", u({ cpuEwmaCores: 1.3 }), false],
    ["cpu usage past a tenth of capacity", u({ cpuEwmaCores: 1.5 }), true],
    ["working set within a tenth", u({ memoryWorkingSetBytes: 590 }), false],
    ["working set past a tenth", u({ memoryWorkingSetBytes: 601 }), true],
    ["labels", { ...base, labels: { zone: "b" } }, true],
    ["unschedulable", { ...base, unschedulable: "memory low" }, true],
    ["runtimes", { ...base, runtimes: ["runc", "crun"] }, true],
    ["slots", { ...base, idRange: { start: 0, size: 2 * 65536 } }, true],
    ["small disk drift", { ...base, diskFreeBytes: 990 }, false],
    ["large disk change", { ...base, diskFreeBytes: 900 }, true],
  ];
  for (const [why, next, want] of rows) assert.equal(reportMatters(base, next), want, why);
  assert.equal(capacityChanged(base, u({ cpuEwmaCores: 3 })), false, "usage is not capacity");
  assert.equal(capacityChanged(base, { ...base, memoryBytes: 2000 }), true);
});
