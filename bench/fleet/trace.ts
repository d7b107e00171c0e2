// A synthetic, seeded working day of developer environments for the packing comparison: each
// environment idles most of the time (an editor and a language server: a few hundredths of a core,
// a working set that grows slowly through the day) and compiles in bursts (all its cores, a third
// more memory, for one to five minutes, about every half hour; none over lunch). Arrivals spread
// over the first 90 minutes. Usage is precomputed per 15-second tick (the heartbeat).
const GiB = 1024 ** 3;

export const TICK_S = 15;

export interface TraceClass {
  name: string;
  cpus: number;
  memoryBytes: number;
  diskBytes: number;
  /** Share of environments of this class. */
  share: number;
}

export const TRACE_CLASSES: TraceClass[] = [
  { name: "small", cpus: 2, memoryBytes: 4 * GiB, diskBytes: 20 * GiB, share: 0.5 },
  { name: "medium", cpus: 4, memoryBytes: 8 * GiB, diskBytes: 40 * GiB, share: 0.35 },
  { name: "large", cpus: 8, memoryBytes: 16 * GiB, diskBytes: 80 * GiB, share: 0.15 },
];

export interface TraceEnv {
  id: string;
  owner: string;
  cls: TraceClass;
  /** Tick of its creation. */
  arrival: number;
  /** Per tick from 0: CPU demand in cores and working set in bytes (0 before arrival). */
  cpu: Float32Array;
  memory: Float64Array;
}

export interface Trace {
  ticks: number;
  envs: TraceEnv[];
  /** Bursts in the whole trace and the mean share of time an environment spends compiling. */
  bursts: number;
  burstShare: number;
}

/** mulberry32: small, fast, good enough for a reproducible synthetic trace. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface TraceOptions {
  envs: number;
  hours: number;
  seed: number;
  /** Mean minutes between one developer's compiles while working. */
  burstEveryMin?: number;
  /** Idle working set at arrival as a share of the memory limit, low to high (default 0.2–0.35). */
  idleMemory?: [number, number];
}

export function makeTrace(o: TraceOptions): Trace {
  const rand = rng(o.seed);
  const between = (lo: number, hi: number) => lo + (hi - lo) * rand();
  const perHour = 3600 / TICK_S;
  const ticks = Math.round(o.hours * perHour);
  const lunch = [Math.round(4 * perHour), Math.round(5 * perHour)] as const;
  const meanGapTicks = ((o.burstEveryMin ?? 30) * 60) / TICK_S;
  const envs: TraceEnv[] = [];
  let bursts = 0;
  let burstTicks = 0;
  let liveTicks = 0;
  for (let i = 0; i < o.envs; i++) {
    const pick = rand();
    let acc = 0;
    const cls =
      TRACE_CLASSES.find((c) => {
        acc += c.share;
        return acc >= pick;
      }) ?? TRACE_CLASSES[0]!;
    const arrival = Math.floor(rand() * 1.5 * perHour);
    const idleCpu = between(0.02, 0.15);
    const startMem = cls.memoryBytes * between(...(o.idleMemory ?? [0.2, 0.35]));
    const growth = cls.memoryBytes * between(0, 0.1);
    const cpu = new Float32Array(ticks);
    const memory = new Float64Array(ticks);
    for (let t = arrival; t < ticks; t++) {
      cpu[t] = idleCpu;
      memory[t] = startMem + (growth * (t - arrival)) / Math.max(1, ticks - arrival);
    }
    // Compiles: exponential gaps while working, none over lunch.
    let t = arrival + Math.floor(-Math.log(1 - rand()) * meanGapTicks);
    while (t < ticks) {
      const length = Math.round(between(4, 20)); // 1 to 5 minutes
      const inLunch = t >= lunch[0] && t < lunch[1];
      if (!inLunch) {
        bursts++;
        const burstCpu = cls.cpus * between(0.8, 1);
        const burstMem = cls.memoryBytes * between(0.15, 0.35);
        for (let k = t; k < Math.min(ticks, t + length); k++) {
          cpu[k] = burstCpu;
          memory[k] = Math.min(cls.memoryBytes * 0.9, memory[k]! + burstMem);
          burstTicks++;
        }
      }
      t += length + Math.floor(-Math.log(1 - rand()) * meanGapTicks);
    }
    liveTicks += ticks - arrival;
    envs.push({ id: `e${i}`, owner: `dev${i}`, cls, arrival, cpu, memory });
  }
  return { ticks, envs, bursts, burstShare: burstTicks / Math.max(1, liveTicks) };
}
