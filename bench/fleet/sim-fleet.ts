// The simulated fleet from the parent's side: forks sim-process.ts several times, hands each its
// share of runners (spread over the replicas), and gathers placement acknowledgements by env id.
import { type ChildProcess, fork } from "node:child_process";
import path from "node:path";
import type { SimReport, SimStart } from "./sim-process.ts";

export interface SimFleet {
  /** Acknowledgement time (epoch ms) of each environment's first ensureRunning. */
  acks: Map<string, number>;
  connected: number;
  failed: number;
  errors: string[];
  /** Links that dropped after connecting. */
  dropped: { name: string; reason: string }[];
  /** Resolves when `ids` are all acknowledged, or after `timeoutMs` (with what arrived). */
  waitForAcks(ids: string[], timeoutMs: number): Promise<number>;
  stop(): Promise<void>;
}

export async function startSimFleet(o: {
  runners: number;
  procs: number;
  endpoints: { url: string; fingerprint: string }[];
  tokens: string[];
  host: SimStart["host"];
  connectConcurrency: number;
  labels?: (i: number) => Record<string, string>;
}): Promise<SimFleet> {
  const acks = new Map<string, number>();
  const dropped: SimFleet["dropped"] = [];
  const children: ChildProcess[] = [];
  const connected = await Promise.all(
    Array.from({ length: o.procs }, (_, p) => {
      const child = fork(path.join(import.meta.dirname, "sim-process.ts"), [], {
        stdio: ["ignore", "inherit", "inherit", "ipc"],
      });
      children.push(child);
      const runners: SimStart["runners"] = [];
      for (let i = p; i < o.runners; i += o.procs) {
        const at = o.endpoints[i % o.endpoints.length]!;
        runners.push({
          token: o.tokens[i]!,
          name: `sim-${String(i).padStart(5, "0")}`,
          labels: o.labels?.(i) ?? { zone: `z${i % 3}` },
          ...at,
        });
      }
      return new Promise<{ ok: number; failed: number; errors: string[] }>((resolve, reject) => {
        child.on("message", (m: SimReport) => {
          if (m.type === "connected") resolve(m);
          else if (m.type === "acks") {
            for (const [id, at] of m.acks) if (!acks.has(id)) acks.set(id, at);
          } else if (m.type === "dropped") dropped.push({ name: m.name, reason: m.reason });
        });
        child.once("exit", (code) => reject(new Error(`sim process ${p} exited ${code}`)));
        const start: SimStart = {
          type: "start",
          runners,
          host: o.host,
          connectConcurrency: o.connectConcurrency,
        };
        child.send(start);
      });
    }),
  );
  return {
    acks,
    connected: connected.reduce((a, c) => a + c.ok, 0),
    failed: connected.reduce((a, c) => a + c.failed, 0),
    errors: connected.flatMap((c) => c.errors),
    dropped,
    waitForAcks(ids, timeoutMs) {
      const missing = () => ids.reduce((n, id) => n + (acks.has(id) ? 0 : 1), 0);
      return new Promise((resolve) => {
        // Counting is O(ids): check every 200 ms, not on every batch.
        const poll = setInterval(() => {
          if (missing() > 0) return;
          clearTimeout(deadline);
          clearInterval(poll);
          resolve(0);
        }, 200);
        const deadline = setTimeout(() => {
          clearInterval(poll);
          resolve(missing());
        }, timeoutMs);
      });
    },
    async stop() {
      await Promise.all(
        children.map(
          (c) =>
            new Promise<void>((resolve) => {
              if (c.exitCode !== null || c.signalCode !== null) return resolve();
              c.once("exit", () => resolve());
              c.send({ type: "stop" });
              setTimeout(() => c.kill("SIGKILL"), 5000).unref();
            }),
        ),
      );
    },
  };
}
