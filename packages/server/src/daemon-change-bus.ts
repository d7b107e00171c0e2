// The daemon's PostgreSQL change bus: replicas sharing one database tell each other which
// environments changed (their controllers reconcile them) and which credentials were revoked
// (their live sessions end). Local changes and revocations are published to the others.
import type { FastifyBaseLogger } from "fastify";
import type { ChangeFeed } from "./services/changes.ts";
import type { LiveSessions } from "./services/live-sessions.ts";
import type { Db } from "./store/db.ts";
import { createPgChangeBus, type PgChangeBus } from "./store/pg-change-bus.ts";
import { listEnvIds } from "./store/queries/envs.ts";

export function wireChangeBus(o: {
  url: string;
  db: Db;
  log: FastifyBaseLogger;
  changes: ChangeFeed;
  sessions: LiveSessions;
  enqueue: (envId: string) => void;
  /** Another replica's append to the shared watch log (services/watch.ts heard()). */
  onWatchLog?: (rv: number) => void;
}): PgChangeBus {
  const { changes, sessions, log } = o;
  const ids = (envId: string | undefined) =>
    envId === undefined ? listEnvIds(o.db) : Promise.resolve([envId]);
  const bus = createPgChangeBus({
    url: o.url,
    logger: log.child({ component: "change-bus" }),
    onRemote: (envId) => {
      changes.receive(envId);
      void ids(envId).then(
        (list) => {
          for (const id of list) o.enqueue(id);
        },
        () => {},
      );
    },
    ...(o.onWatchLog ? { onWatchLog: o.onWatchLog } : {}),
    onRevoked: (r) => {
      if (r) sessions.receive(r);
      else
        void sessions
          .recheck()
          .catch((err: unknown) => log.warn({ err }, "re-checking live sessions failed"));
    },
  });
  changes.onEmit((envId) => bus.publish(envId));
  sessions.onRevoke((r) => bus.publishRevocation(r));
  return bus;
}
