// The RunnerStats contract, one suite for every implementation: the host's facts, a running
// environment's usage against the limits it was given, ENV_NOT_RUNNING once it stops, and the
// DNS counters' shape. Figures are checked for sense, not value: each implementation measures its own.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { RunnerStats } from "@warren/protocol";
import { type RunnerSubject, rejectsWithCode, unknownId } from "./subject.ts";

const nonNegative = (v: unknown, what: string) =>
  assert.ok(typeof v === "number" && Number.isFinite(v) && v >= 0, `${what} is a count: ${v}`);

export function statsConformance(name: string, makeSubject: () => Promise<RunnerSubject<RunnerStats>>): void {
  describe(`RunnerStats conformance: ${name}`, () => {
    let s: RunnerSubject<RunnerStats>;
    before(async () => {
      s = await makeSubject();
    });
    after(async () => {
      await s?.cleanup();
    });

    it("info names the host's runtimes, capacity and id range", async () => {
      const info = await s.api.info();
      assert.ok(typeof info.id === "string" && info.id.length > 0);
      assert.ok(typeof info.hostname === "string" && info.hostname.length > 0);
      assert.ok(info.runtimes.includes(s.runtime), `${s.runtime} among ${info.runtimes.join(", ")}`);
      assert.ok(Number.isInteger(info.cpus) && info.cpus >= 1);
      assert.ok(info.memoryBytes > 0);
      nonNegative(info.diskFreeBytes, "diskFreeBytes");
      assert.ok(["v1", "v2", "hybrid"].includes(info.cgroupMode));
      assert.ok(info.idRange.size >= 65536, "room for at least one environment's 65,536 ids");
      nonNegative(info.idRange.start, "idRange.start");
    });

    it("stats of a running environment: its usage against the limits it was given", async () => {
      const spec = s.envSpec("stats");
      await s.api.ensureRunning(spec);
      const st = await s.api.stats(spec.id);
      assert.equal(st.id, spec.id);
      assert.equal(st.name, spec.name);
      assert.equal(st.memoryLimitBytes, spec.resources.memoryBytes);
      assert.equal(st.pidsLimit, spec.resources.pids);
      assert.equal(st.diskQuotaBytes, spec.resources.diskBytes);
      assert.ok(Number.isInteger(st.pids) && st.pids >= 1, `init at least: ${st.pids}`);
      assert.ok(st.pids <= spec.resources.pids);
      for (const k of ["cpuCores", "memoryWorkingSetBytes", "diskUsedBytes", "oomKills"] as const)
        nonNegative(st[k], k);
      assert.ok(st.memoryWorkingSetBytes <= st.memoryLimitBytes);
      assert.ok(!Number.isNaN(Date.parse(st.at)), `at is a time: ${st.at}`);

      await s.api.ensureStopped(spec, 0);
      await rejectsWithCode(s.api.stats(spec.id), "ENV_NOT_RUNNING");
      await s.api.remove(spec.id);
      await rejectsWithCode(s.api.stats(spec.id), "ENV_NOT_RUNNING");
    });

    it("stats of an id the host has nothing of is ENV_NOT_RUNNING", async () => {
      await rejectsWithCode(s.api.stats(unknownId()), "ENV_NOT_RUNNING");
    });

    it("dnsStats gives every counter and the upstreams", async () => {
      const d = await s.api.dnsStats();
      for (const k of [
        "hits",
        "misses",
        "negativeHits",
        "upstreamQueries",
        "upstreamErrors",
        "tcpRetries",
        "cacheEntries",
      ] as const) {
        nonNegative(d[k], k);
      }
      for (const k of ["p50", "p99", "mean"] as const)
        nonNegative(d.upstreamLatencyMs[k], `upstreamLatencyMs.${k}`);
      assert.ok(Array.isArray(d.upstreams) && d.upstreams.every((u) => typeof u === "string"));
    });
  });
}
