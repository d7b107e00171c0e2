// bench/start's warm-pool row: create-to-first-exec when a ready pool member of the image and
// class is there to take over (the claim, the takeover on the runner: name, hostname, workspace,
// and `true` run in it). Between runs the pool refills; the wait for that is not timed.
import { type ApiClient, DEFAULT_IMAGE } from "@warren/protocol";
import { execOnce } from "../lib/exec-once.ts";
import { type Series, timeMs } from "../lib/stats.ts";

const CLASS = "bench-pool";

async function untilReady(client: ApiClient, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [p] = await client.listPools();
    if (p && p.ready >= 1) return;
    if (Date.now() > deadline) throw new Error(`the pool never became ready: ${JSON.stringify(p)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function poolSeries(client: ApiClient, runtime: string, runs: number): Promise<Series[]> {
  await client.createClass({ name: CLASS, cpus: 1, memory: "512m", disk: "1g", runtime: runtime as "crun" });
  await client.setPool({ image: DEFAULT_IMAGE, className: CLASS, min: 2, max: 2 });
  const samples: number[] = [];
  const claims: number[] = [];
  const execs: number[] = [];
  try {
    for (let i = 0; i < runs; i++) {
      await untilReady(client);
      const name = `bp-${runtime}-${i}`;
      samples.push(
        await timeMs(async () => {
          claims.push(await timeMs(() => client.createEnvironment({ name, className: CLASS })));
          execs.push(await timeMs(() => execOnce(client, name, ["true"])));
        }),
      );
      const [p] = await client.listPools();
      if (p?.claimsTotal !== i + 1)
        throw new Error(`${name} was not served from the pool: ${JSON.stringify(p)}`);
      await client.deleteEnvironment(name, true);
    }
  } finally {
    await client.removePool(DEFAULT_IMAGE, CLASS);
  }
  return [
    { name: `warren ${runtime}: create-to-first-exec from the warm pool`, samplesMs: samples },
    { name: `  of which the claim (create returns)`, samplesMs: claims },
    { name: `  of which the first exec`, samplesMs: execs },
  ];
}
