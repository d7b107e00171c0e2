// Runs in a worker thread (sqlite-checkpointer.ts): copies the WAL back into the database file
// with its own connection, so the fsync a checkpoint needs never stalls the daemon's event loop.
// PASSIVE never blocks writers or readers; what it cannot copy now it copies on the next tick.
import { DatabaseSync } from "node:sqlite";
import { parentPort, workerData } from "node:worker_threads";

const { file, intervalMs } = workerData as { file: string; intervalMs: number };
const db = new DatabaseSync(file);
db.exec("pragma busy_timeout = 1000");
const tick = setInterval(() => {
  try {
    db.exec("pragma wal_checkpoint(PASSIVE)");
  } catch (err) {
    parentPort?.postMessage({ error: String(err) });
  }
}, intervalMs);
parentPort?.on("message", (m) => {
  if (m === "stop") {
    clearInterval(tick);
    db.close();
    parentPort?.close();
  }
});
