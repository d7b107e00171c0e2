// Which replica holds which runner, in the store (migration 014), so replicas that share a
// PostgreSQL database can tell "this organisation's runner is connected to another replica"
// (leave its environments to that replica, admit creates with what it last reported) from "no
// runner is connected anywhere" (say so). With SQLite there is one replica and the rows are
// simply this process's view.
import type { RunnerInfo } from "@warren/protocol";
import type { Logger } from "../logger.ts";
import type { Db } from "../store/db.ts";
import {
  liveRunners,
  releaseRunner,
  type SeenRunner,
  touchRunners,
  upsertRunner,
} from "../store/queries/runners.ts";
import type { RemoteRunner } from "./remote-runner.ts";

const HEARTBEAT_MS = 10_000;
/** A row not refreshed for this long belongs to a replica that died holding it. */
export const STALE_MS = 30_000;

export interface RunnerPresence {
  readonly replicaId: string;
  /** Records a runner this replica now holds, with what it reports (info, images). */
  held(r: RemoteRunner, orgId: string): Promise<void>;
  released(runnerId: string): Promise<void>;
  /** A live runner of the organisation held by another replica, most recently seen first. */
  elsewhere(orgId: string): Promise<SeenRunner | undefined>;
  /** Starts the heartbeat over the runners `held` lists at each beat. */
  start(heldNow: () => { runner: RemoteRunner; orgId: string }[]): void;
  close(): void;
}

export function createRunnerPresence(o: { db: Db; replicaId: string; logger: Logger }): RunnerPresence {
  let timer: NodeJS.Timeout | undefined;
  const record = async (r: RemoteRunner, orgId: string, info?: RunnerInfo) => {
    const [fresh, images] = await Promise.all([
      info ? Promise.resolve(info) : r.info(),
      r.listImages().catch(() => []),
    ]);
    await upsertRunner(o.db, {
      id: r.runnerId,
      orgId,
      info: fresh,
      imageRefs: images.map((i) => i.ref),
      replica: o.replicaId,
      now: new Date().toISOString(),
    });
  };
  return {
    replicaId: o.replicaId,
    held: (r, orgId) => record(r, orgId, r.infoAtHello),
    released: (runnerId) => releaseRunner(o.db, runnerId, o.replicaId),
    async elsewhere(orgId) {
      const since = new Date(Date.now() - STALE_MS).toISOString();
      return (await liveRunners(o.db, orgId, since)).find((r) => r.replica !== o.replicaId);
    },
    start(heldNow) {
      const beat = async () => {
        const held = heldNow();
        try {
          await touchRunners(
            o.db,
            held.map((h) => h.runner.runnerId),
            o.replicaId,
            new Date().toISOString(),
          );
          // Capacity and images move; refresh what other replicas admit creates with.
          await Promise.all(held.map((h) => record(h.runner, h.orgId)));
        } catch (err) {
          o.logger.warn({ err }, "runner heartbeat failed; retried at the next beat");
        }
      };
      timer = setInterval(() => void beat(), HEARTBEAT_MS);
      timer.unref();
    },
    close() {
      if (timer) clearInterval(timer);
    },
  };
}
