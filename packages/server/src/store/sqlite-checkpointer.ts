// Checkpoints off the event loop. node:sqlite is synchronous, and SQLite's automatic checkpoint
// runs inside whichever commit crosses the threshold, fsync included: bench/api saw it as the
// p99 of API creates. A worker thread checkpoints every 100 ms instead (bench/api: at 500 ms the
// copies were larger and the commits that waited on them slower); the daemon's own
// connection keeps a far higher automatic threshold only as a safety net, should the worker die.
import { Worker } from "node:worker_threads";

export interface Checkpointer {
  stop(): Promise<void>;
}

export function startCheckpointer(file: string, intervalMs = 100): Checkpointer {
  const worker = new Worker(new URL("./sqlite-checkpoint-worker.ts", import.meta.url), {
    workerData: { file, intervalMs },
  });
  worker.unref();
  worker.on("error", () => {}); // the safety-net threshold takes over
  return {
    async stop() {
      const exited = new Promise<void>((resolve) => worker.once("exit", () => resolve()));
      worker.postMessage("stop");
      await Promise.race([exited, new Promise((r) => setTimeout(r, 1000))]);
      await worker.terminate();
    },
  };
}
