// `warren inspect`'s CPU lines from the runner's governor view.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { EnvCpuGovernor } from "@warren/protocol";
import { describeEnv } from "../src/commands/inspect.ts";
import { makeEnv } from "./fake-daemon.ts";

const granted: EnvCpuGovernor = {
  governed: true,
  limitCores: 1,
  baseCores: 0.5,
  burstCores: 1,
  granted: true,
  burstGrantsTotal: 3,
  throttledPeriodsTotal: 1234,
  throttledSecondsTotal: 12.345,
  explanation: "cpu cap 1 cores (burst granted: throttled while the host used 40% of its 1.75-core budget)",
};

const running = (cpuGovernor: EnvCpuGovernor) =>
  makeEnv("dev", { observed: { id: "x", state: "running", cpuGovernor } });

describe("inspect: the CPU governor", () => {
  it("shows the cap, why, the grants and the throttling", () => {
    const out = describeEnv(running(granted));
    assert.match(out, /^ {2}CPU cap: {3}1 cpu \(burst granted \(base 0\.5 cpus\)\)$/m);
    assert.match(out, /^ {2}CPU why: {3}cpu cap 1 cores \(burst granted: .*\)$/m);
    assert.match(out, /^ {2}Throttled: {1}1234 periods \(12\.3 s\); 3 burst grants$/m);
  });

  it("says when the governor is off, and an unlimited cap", () => {
    const out = describeEnv(
      running({ ...granted, governed: false, granted: false, limitCores: null, explanation: undefined }),
    );
    assert.match(out, /^ {2}CPU cap: {3}unlimited \(governor off\)$/m);
    assert.doesNotMatch(out, /CPU why/);
  });

  it("shows a base cap that may burst", () => {
    const out = describeEnv(running({ ...granted, granted: false, limitCores: 0.5 }));
    assert.match(out, /^ {2}CPU cap: {3}0\.5 cpus \(base; bursts to 1 cpu on idle cores\)$/m);
  });
});
