// Idempotency claims left by a crash, on either store: a minimal app per server instance with the
// real Idempotency-Key hooks and one route whose handler can be held mid-request, standing in for
// a request that a crash cut off. Used by idempotency-recovery.test.ts (SQLite) and
// idempotency-recovery.pg.test.ts (PostgreSQL).
import Fastify, { type FastifyInstance } from "fastify";
import type { Clock } from "../src/clock.ts";
import { installIdempotency } from "../src/http/idempotency.ts";
import type { Db } from "../src/store/db.ts";

export interface Instance {
  app: FastifyInstance;
  /** Every time the handler ran: the instance that ran it. */
  runs: string[];
  /** Holds the next request inside its handler until the returned function is called. */
  holdNext(): { entered: Promise<void>; release: () => void };
  close(): Promise<void>;
}

/** The ledger all instances share (the request's effect), so a test sees who did the work. */
export async function instance(db: Db, id: string, clock: Clock, runs: string[]): Promise<Instance> {
  const app = Fastify({ logger: false });
  installIdempotency(app, { db, clock, instanceId: id });
  let hold: { entered: () => void; released: Promise<void> } | undefined;
  app.post("/things", async (_req, reply) => {
    const h = hold;
    hold = undefined;
    if (h) {
      h.entered();
      await h.released;
    }
    runs.push(id);
    return reply.status(201).send({ by: id, n: runs.length });
  });
  await app.ready();
  return {
    app,
    runs,
    holdNext() {
      let entered!: () => void;
      let release!: () => void;
      const e = new Promise<void>((r) => {
        entered = r;
      });
      const released = new Promise<void>((r) => {
        release = r;
      });
      hold = { entered, released };
      return { entered: e, release };
    },
    close: () => app.close(),
  };
}

export const post = (i: Instance, key: string, body: unknown = { name: "x" }) =>
  i.app.inject({
    method: "POST",
    url: "/things",
    payload: body as Record<string, unknown>,
    headers: { "idempotency-key": key },
  });
