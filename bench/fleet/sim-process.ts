// One process of the simulated fleet (forked by run.ts): connects its share of simulated runners
// (SimRunner from @warren/testing) to the control plane over the real runner protocol, and reports
// over IPC when they are connected, each placement's acknowledgement time (batched), and links
// that drop. Several of these share the open-file limit (20,000 here) and the two cores.
import { connectRunner, type RunnerConnection } from "@warren/protocol";
import { SimRunner, type SimUsageModel } from "@warren/testing/sim-runner";

export interface SimStart {
  type: "start";
  runners: {
    token: string;
    name: string;
    labels: Record<string, string>;
    url: string;
    fingerprint: string;
  }[];
  host: { cpus: number; memoryBytes: number; diskBytes: number; slots: number };
  /** Connections opened at once by this process. */
  connectConcurrency: number;
}

export type SimReport =
  | { type: "connected"; ok: number; failed: number; errors: string[] }
  | { type: "acks"; acks: [string, number][] }
  | { type: "dropped"; name: string; reason: string };

/**
 * A developer's environment: idle (a tenth of a core, 30 % of its memory limit) with a two-minute
 * compile (all its cores, 55 % of its memory) every 30 minutes, at a phase set by its id so
 * heartbeats see usage move across the fleet without every host bursting at once.
 */
export const burstyUsage: SimUsageModel = (env, nowMs) => {
  let h = 0;
  for (let i = 0; i < env.spec.id.length; i++) h = (h * 31 + env.spec.id.charCodeAt(i)) >>> 0;
  const period = 30 * 60_000;
  const bursting = (nowMs + (h % period)) % period < 2 * 60_000;
  const r = env.spec.resources;
  return bursting
    ? { cpuCores: r.cpus, memoryBytes: Math.floor(r.memoryBytes * 0.55) }
    : { cpuCores: Math.min(0.1, r.cpus), memoryBytes: Math.floor(r.memoryBytes * 0.3) };
};

const send = (m: SimReport) => process.send?.(m);

async function start(m: SimStart): Promise<void> {
  let pending: [string, number][] = [];
  const flush = setInterval(() => {
    if (pending.length === 0) return;
    send({ type: "acks", acks: pending });
    pending = [];
  }, 50);
  const conns: RunnerConnection[] = [];
  const errors: string[] = [];
  let ok = 0;
  let failed = 0;
  let next = 0;
  await Promise.all(
    Array.from({ length: m.connectConcurrency }, async () => {
      while (next < m.runners.length) {
        const r = m.runners[next++]!;
        const sim = new SimRunner({
          name: r.name,
          labels: r.labels,
          ...m.host,
          usage: burstyUsage,
          onAck: (id, at) => pending.push([id, at]),
        });
        try {
          const conn = await connectRunner({ url: r.url, fingerprint: r.fingerprint, token: r.token }, sim);
          await conn.ready;
          conns.push(conn);
          ok++;
          void conn.closed.then((reason) => {
            if (!stopping) send({ type: "dropped", name: r.name, reason });
          });
        } catch (err) {
          failed++;
          if (errors.length < 5) errors.push(`${r.name}: ${(err as Error).message}`);
        }
      }
    }),
  );
  send({ type: "connected", ok, failed, errors });
  process.on("message", (msg: { type: string }) => {
    if (msg.type !== "stop") return;
    stopping = true;
    clearInterval(flush);
    for (const c of conns) c.close();
    // Give the closes a moment to go out, then leave.
    setTimeout(() => process.exit(0), 500).unref();
  });
}

let stopping = false;
process.once("message", (m: SimStart) => void start(m));
process.on("disconnect", () => process.exit(0));
