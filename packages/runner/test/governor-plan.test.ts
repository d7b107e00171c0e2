// The CPU governor's pure plan, replayed over recorded tick sequences and checked row by row, plus
// the properties every tick must keep: the CFS burst never above the quota at any moment, writes
// only for changed values, clamped shares, and an EWMA that forgets.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CPU_PERIOD_US, cpuQuotaUs } from "../src/cgroups/oci.ts";
import { baseShare, cpuWrites } from "../src/governor/cpu-values.ts";
import { nextEwma } from "../src/governor/ewma.ts";
import { planGovernor } from "../src/governor/plan.ts";
import {
  type CgroupMode,
  type CpuWrite,
  type CurrentCpuValues,
  type EnvGovernorState,
  GOVERNOR_DEFAULTS,
  type GovernorConfig,
  type GovernorInput,
  type GovernorPlan,
} from "../src/governor/types.ts";
import { type GovernorScenario, SCENARIOS } from "./fixtures/governor-scenarios.ts";

const config = (c: GovernorScenario["config"]): GovernorConfig => ({
  ...c,
  ewmaTauMs: GOVERNOR_DEFAULTS.ewmaTauMs,
  grantBelowFraction: GOVERNOR_DEFAULTS.grantBelowFraction,
  revertAfterQuietTicks: GOVERNOR_DEFAULTS.revertAfterQuietTicks,
});

/** Applies one write to a simulated group the way the kernel would, refusing a burst above the quota. */
function applyWrite(mode: CgroupMode, cur: CurrentCpuValues, w: CpuWrite): void {
  const n = Number(w.value.split(" ")[0]);
  if (w.file === "cpu.shares" || w.file === "cpu.weight") cur.share = n;
  else if (w.file === "cpu.cfs_quota_us" || w.file === "cpu.max") {
    if (mode === "v2") assert.equal(w.value, `${n} ${CPU_PERIOD_US}`, "cpu.max carries the period");
    cur.quotaUs = n;
  } else cur.burstUs = n;
  assert.equal(
    w.file.startsWith("cpu.cfs_") || w.file === "cpu.shares",
    mode === "v1",
    `${w.file} on ${mode}`,
  );
  if (cur.burstUs !== null && cur.quotaUs !== null)
    assert.ok(cur.burstUs <= cur.quotaUs, `burst ${cur.burstUs} above quota ${cur.quotaUs} after ${w.file}`);
}

/** Replays a scenario: each tick's plan sees the group values the previous tick's writes left. */
function replay(s: GovernorScenario): GovernorPlan[] {
  const groups = new Map<string, CurrentCpuValues>();
  let state: Record<string, EnvGovernorState> = { ...s.initialState };
  return s.ticks.map((tick) => {
    const envs = Object.entries(tick.envs).map(([id, m]) => {
      const cls = s.classes[id];
      assert.ok(cls, `fixture names a class for ${id}`);
      // A fresh group is what the runtime made from the OCI spec: base share and quota, no burst.
      const wasGranted = s.initialState?.[id]?.granted ?? false;
      const quotaCores = wasGranted ? (cls.burstCpus ?? 2 * cls.cpus) : cls.cpus;
      if (!groups.has(id))
        groups.set(id, {
          share: baseShare(s.config.mode, cls.cpus),
          quotaUs: cpuQuotaUs(quotaCores),
          burstUs: s.cfsBurst ? 0 : null,
        });
      const current = groups.get(id) as CurrentCpuValues;
      return { id, ...cls, current: { ...current }, ...m };
    });
    const input: GovernorInput = {
      config: config(s.config),
      elapsedMs: tick.elapsedMs ?? 1000,
      hostUsageCores: tick.hostUsageCores,
      envs,
      state,
    };
    const plan = planGovernor(input);
    for (const w of plan.writes) applyWrite(s.config.mode, groups.get(w.envId) as CurrentCpuValues, w);
    state = plan.state;
    return plan;
  });
}

describe("governor plan: recorded tick sequences", () => {
  for (const s of SCENARIOS) {
    it(s.name, () => {
      assert.equal(s.expect.length, s.ticks.length, "one expectation row per tick");
      const plans = replay(s);
      plans.forEach((plan, i) => {
        const caps = Object.fromEntries(plan.envs.map((e) => [e.id, e.limitCores]));
        assert.deepEqual(caps, s.expect[i], `caps after tick ${i}`);
        // The state carries exactly the environments sampled this tick.
        assert.deepEqual(Object.keys(plan.state).sort(), Object.keys(s.ticks[i]?.envs ?? {}).sort());
        for (const w of plan.writes)
          assert.ok(w.envId in (s.ticks[i]?.envs ?? {}), `write for absent ${w.envId}`);
      });
      const total = { grants: 0, revokes: 0, reverts: 0, throttledPeriods: 0 };
      for (const p of plans)
        for (const k of Object.keys(total) as (keyof typeof total)[]) total[k] += p.counters[k];
      assert.deepEqual(total, s.counters);
    });
  }

  it("a vanished environment gets no write, no state and no error", () => {
    const s = SCENARIOS.find((x) => x.name.includes("vanished")) as GovernorScenario;
    const last = replay(s).at(-1) as GovernorPlan;
    assert.equal(last.state["gone"], undefined);
    assert.equal(
      last.envs.find((e) => e.id === "gone"),
      undefined,
    );
  });

  it("writes the burst with the quota, lowering it first and raising it after", () => {
    const lone = replay(SCENARIOS[0] as GovernorScenario);
    // Tick 0 only sets the burst the runtime left at 0; tick 1 raises the quota, then the burst.
    assert.deepEqual(
      lone[0]?.writes.map((w) => `${w.file}=${w.value}`),
      ["cpu.cfs_burst_us=50000"],
    );
    assert.deepEqual(
      lone[1]?.writes.map((w) => `${w.file}=${w.value}`),
      ["cpu.cfs_quota_us=200000", "cpu.cfs_burst_us=200000"],
    );
    const over = replay(SCENARIOS[2] as GovernorScenario);
    assert.deepEqual(
      over[0]?.writes.filter((w) => w.envId === "heavy").map((w) => `${w.file}=${w.value}`),
      ["cpu.max.burst=50000", `cpu.max=50000 ${CPU_PERIOD_US}`],
    );
  });

  it("writes nothing when no value changes", () => {
    const plans = replay(SCENARIOS[0] as GovernorScenario);
    assert.deepEqual(plans[2]?.writes, []);
    assert.deepEqual(plans[3]?.writes, []);
    // Without a burst file, the first tick of a group the runtime made right has nothing to write.
    assert.deepEqual(replay(SCENARIOS[5] as GovernorScenario)[0]?.writes, []);
    // A group changed behind the governor's back (a restart) is put back.
    assert.deepEqual(
      cpuWrites("v2", "x", { share: 70, quotaUs: 50_000, burstUs: null }, { share: 50, quotaUs: 50_000 }),
      [{ envId: "x", file: "cpu.weight", value: "50" }],
    );
  });
});

describe("governor plan: values and explanations", () => {
  const shares: [CgroupMode, number, number][] = [
    ["v1", 0.5, 512],
    ["v1", 2, 2048],
    ["v1", 0.001, 2],
    ["v1", 300, 262_144],
    ["v2", 0.5, 50],
    ["v2", 2, 200],
    ["v2", 0.001, 1],
    ["v2", 200, 10_000],
  ];
  for (const [mode, cpus, want] of shares)
    it(`base share ${mode} for ${cpus} cpus is ${want}`, () => assert.equal(baseShare(mode, cpus), want));

  it("writes the clamped share for an environment whose group holds another", () => {
    const plan = planGovernor({
      config: config({ mode: "v2", hostCores: 2, reserveCores: 0 }),
      elapsedMs: 1000,
      hostUsageCores: 0,
      envs: [
        {
          id: "tiny",
          cpus: 0.001,
          current: { share: 100, quotaUs: 1000, burstUs: null },
          usageCores: 0,
          throttledPeriods: 0,
        },
      ],
      state: {},
    });
    assert.deepEqual(plan.writes, [{ envId: "tiny", file: "cpu.weight", value: "1" }]);
  });

  it("explains each cap in one line for inspect", () => {
    const over = replay(SCENARIOS[2] as GovernorScenario);
    const lone = replay(SCENARIOS[0] as GovernorScenario);
    assert.match(
      lone[1]?.envs[0]?.explanation ?? "",
      /^cpu cap 2 cores \(burst granted: throttled while the host used 27% of its 2-core budget\); cpu.shares 512; usage EWMA [\d.]+ cores; 10 throttled periods/,
    );
    const heavy = over[0]?.envs.find((e) => e.id === "heavy");
    assert.match(
      heavy?.explanation ?? "",
      /cpu cap 0.5 cores \(burst revoked: the host used 114% of its budget/,
    );
    assert.match(heavy?.explanation ?? "", /cpu.weight 50/);
    const two = replay(SCENARIOS[1] as GovernorScenario);
    assert.match(
      two[2]?.envs.find((e) => e.id === "b")?.explanation ?? "",
      /bursts need the host under 90% of its budget and it used 100%/,
    );
    assert.match(
      two[4]?.envs.find((e) => e.id === "a")?.explanation ?? "",
      /burst reverted after 3 ticks without throttling/,
    );
    assert.match(
      two[5]?.envs.find((e) => e.id === "b")?.explanation ?? "",
      /a burst would bring the predicted use to 2.5 cores, over the 2-core budget/,
    );
  });

  it("refuses nonsense input with the value that was wrong", () => {
    const base: GovernorInput = {
      config: config({ mode: "v1", hostCores: 2, reserveCores: 0 }),
      elapsedMs: 1000,
      hostUsageCores: 0,
      envs: [],
      state: {},
    };
    assert.throws(
      () => planGovernor({ ...base, config: { ...base.config, reserveCores: 2 } }),
      /reserve \(2 cores\) must be/,
    );
    assert.throws(() => planGovernor({ ...base, elapsedMs: 0 }), /tick length/);
    const env = {
      id: "a",
      cpus: 1,
      current: { share: 1024, quotaUs: 100_000, burstUs: null },
      usageCores: -1,
      throttledPeriods: 0,
    };
    assert.throws(() => planGovernor({ ...base, envs: [env] }), /environment a: usage must be/);
    assert.throws(
      () =>
        planGovernor({
          ...base,
          envs: [
            { ...env, usageCores: 0 },
            { ...env, usageCores: 0 },
          ],
        }),
      /unique/,
    );
  });
});

describe("governor plan: the usage EWMA", () => {
  const tau = GOVERNOR_DEFAULTS.ewmaTauMs;
  const run = (e: number | undefined, usage: number, ticks: number, dtMs: number) => {
    let v = e;
    for (let i = 0; i < ticks; i++) v = nextEwma(v, usage, dtMs, tau);
    return v as number;
  };

  it("forgets: an environment busy an hour ago is light now, unlike a lifetime average", () => {
    const afterBusy = run(0, 1, 60, 10_000); // 10 minutes at 1 core
    assert.ok(afterBusy > 0.6, `after 10 busy minutes the EWMA is ${afterBusy}`);
    const now = run(afterBusy, 0, 360, 10_000); // then an idle hour
    const lifetimeAverage = 10 / 70;
    assert.ok(now < 0.01, `an hour later the EWMA is ${now}`);
    assert.ok(now < lifetimeAverage / 10);
  });

  it("weighs samples by time, so a changed tick length averages the same", () => {
    const oneLong = nextEwma(0.2, 1.5, 60_000, tau);
    assert.ok(Math.abs(run(0.2, 1.5, 6, 10_000) - oneLong) < 1e-12);
    assert.ok(Math.abs(run(0.2, 1.5, 60, 1_000) - oneLong) < 1e-12);
    assert.ok(Math.abs(oneLong - (0.2 + (1.5 - 0.2) * (1 - Math.exp(-0.1)))) < 1e-12);
  });

  it("is carried in the plan's state and ages with the tick length it is given", () => {
    const env = {
      id: "a",
      cpus: 1,
      current: { share: 1024, quotaUs: 100_000, burstUs: null },
      usageCores: 0,
      throttledPeriods: 0,
    };
    const step = (elapsedMs: number) =>
      planGovernor({
        config: config({ mode: "v1", hostCores: 2, reserveCores: 0 }),
        elapsedMs,
        hostUsageCores: 0,
        envs: [env],
        state: { a: { ewmaCores: 1, granted: false, quietTicks: 0 } },
      }).state["a"]?.ewmaCores;
    assert.ok(Math.abs((step(600_000) ?? 0) - Math.exp(-1)) < 1e-12);
    assert.ok((step(1_000) ?? 0) > 0.99);
  });
});
