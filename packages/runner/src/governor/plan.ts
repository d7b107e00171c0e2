// The pure half of the CPU governor: from one tick's samples and the previous state, decide each
// environment's cap, share and CFS burst. No I/O here, so every case is a row in
// governor-plan.test.ts, replayed from recorded sequences of ticks.
//
// Each environment's class cpus are its work-conserving share and its base cap. A throttled
// environment gets its class's burst while the host has idle cores (ascending usage EWMA, so the
// lightest go first), keeps it while it still hits it, and gives it back after a few quiet ticks
// or, heaviest first, as soon as the host goes over its budget.
import { cpuQuotaUs } from "../cgroups/oci.ts";
import { baseShare, cpuWrites } from "./cpu-values.ts";
import { nextEwma } from "./ewma.ts";
import { explainCap } from "./explain.ts";
import {
  type CapReason,
  type EnvCpuSample,
  GOVERNOR_DEFAULTS,
  type GovernorCounters,
  type GovernorInput,
  type GovernorPlan,
} from "./types.ts";
import { validateGovernorInput } from "./validate.ts";

interface Working {
  sample: EnvCpuSample;
  burstCores: number;
  throttled: boolean;
  ewmaCores: number;
  granted: boolean;
  quietTicks: number;
  reason: CapReason;
}

/** The class's burst, at most the budget; never below its cpus (then it simply has none). */
export function burstCores(sample: Pick<EnvCpuSample, "cpus" | "burstCpus">, budgetCores: number): number {
  const wanted = sample.burstCpus ?? GOVERNOR_DEFAULTS.burstFactor * sample.cpus;
  return Math.max(sample.cpus, Math.min(wanted, budgetCores));
}

/** Lightest first; the id breaks ties so a replay always decides the same way. */
const byEwma = (a: Working, b: Working) =>
  a.ewmaCores - b.ewmaCores || a.sample.id.localeCompare(b.sample.id);
/** What giving a grant back frees: the use above the base cap. */
const freedBy = (w: Working) => Math.max(0, w.sample.usageCores - w.sample.cpus);

export function planGovernor(input: GovernorInput): GovernorPlan {
  validateGovernorInput(input);
  const { config, hostUsageCores } = input;
  const budgetCores = config.hostCores - config.reserveCores;
  const hostFraction = hostUsageCores / budgetCores;
  const counters: GovernorCounters = { grants: 0, revokes: 0, reverts: 0, throttledPeriods: 0 };

  const work: Working[] = input.envs.map((sample) => {
    const prev = input.state[sample.id];
    const burst = burstCores(sample, budgetCores);
    counters.throttledPeriods += sample.throttledPeriods;
    return {
      sample,
      burstCores: burst,
      throttled: sample.throttledPeriods > 0,
      ewmaCores: nextEwma(prev?.ewmaCores, sample.usageCores, input.elapsedMs, config.ewmaTauMs),
      // A class changed to one without a burst ends its grant at once.
      granted: (prev?.granted ?? false) && burst > sample.cpus,
      quietTicks: prev?.quietTicks ?? 0,
      reason: burst > sample.cpus ? { kind: "base" } : { kind: "noBurst" },
    };
  });

  // Grants that went unused for long enough go back first; what they free counts below.
  let predictedHost = hostUsageCores;
  for (const w of work.filter((w) => w.granted)) {
    w.quietTicks = w.throttled ? 0 : w.quietTicks + 1;
    if (w.quietTicks >= config.revertAfterQuietTicks) {
      w.granted = false;
      counters.reverts++;
      predictedHost -= freedBy(w);
      w.reason = { kind: "reverted", quietTicks: w.quietTicks };
    } else {
      w.reason = { kind: "kept", quietTicks: w.quietTicks, revertAfter: config.revertAfterQuietTicks };
    }
  }

  const hungry = work.filter((w) => !w.granted && w.throttled && w.burstCores > w.sample.cpus).sort(byEwma);
  if (hostUsageCores > budgetCores) {
    // Over budget: the heaviest EWMA gives back first, until the host is predicted back under.
    for (const w of work.filter((w) => w.granted).sort((a, b) => byEwma(b, a))) {
      if (predictedHost <= budgetCores) break;
      w.granted = false;
      w.quietTicks = 0;
      counters.revokes++;
      predictedHost -= freedBy(w);
      w.reason = { kind: "revoked", hostFraction };
    }
  }
  if (hostUsageCores < config.grantBelowFraction * budgetCores) {
    // A granted environment may use its whole burst and a throttled one its whole cap at any moment,
    // so the prediction counts those, not what they happened to use.
    let predictedEnvs = work.reduce(
      (sum, w) => sum + (w.granted ? w.burstCores : w.throttled ? w.sample.cpus : w.sample.usageCores),
      0,
    );
    let full = false;
    for (const w of hungry) {
      const next = predictedEnvs - w.sample.cpus + w.burstCores;
      full ||= next > budgetCores;
      if (full) {
        w.reason = { kind: "noRoom", predictedCores: next, budgetCores };
        continue;
      }
      predictedEnvs = next;
      w.granted = true;
      w.quietTicks = 0;
      counters.grants++;
      w.reason = { kind: "granted", hostFraction, budgetCores };
    }
  } else {
    for (const w of hungry)
      w.reason = { kind: "hostBusy", hostFraction, grantBelowFraction: config.grantBelowFraction };
  }

  const plan: GovernorPlan = { writes: [], state: {}, envs: [], counters, budgetCores };
  for (const w of work) {
    const { sample } = w;
    const limitCores = w.granted ? w.burstCores : sample.cpus;
    const share = baseShare(config.mode, sample.cpus);
    plan.writes.push(
      ...cpuWrites(config.mode, sample.id, sample.current, { share, quotaUs: cpuQuotaUs(limitCores) }),
    );
    plan.state[sample.id] = {
      ewmaCores: w.ewmaCores,
      granted: w.granted,
      quietTicks: w.granted ? w.quietTicks : 0,
    };
    const decided = {
      limitCores,
      share,
      ewmaCores: w.ewmaCores,
      throttledPeriods: sample.throttledPeriods,
      reason: w.reason,
    };
    plan.envs.push({
      id: sample.id,
      granted: w.granted,
      ...decided,
      explanation: explainCap({ mode: config.mode, ...decided }),
    });
  }
  return plan;
}
