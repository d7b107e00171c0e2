// The real control plane (services, HTTP app, audit trail, secrets, registry logins) in this
// process, listening on a temp unix socket, with the server tests' fake runner behind it: the
// real CLI talks to real request handling, and only the host side is fake.
import path from "node:path";
import {
  build,
  createAuditService,
  createIdentityService,
  createImageService,
  createQuotaService,
  createRegistryLoginService,
  createSecretService,
  createSshKeyService,
  listenUnix,
  secretBox,
  systemClock,
} from "@warren/server";
import type { FastifyInstance } from "fastify";
import { type Harness, harness } from "./server-harness.ts";

export interface InprocDaemon {
  socket: string;
  h: Harness;
  app: FastifyInstance;
  /** Every audit record, oldest first. */
  auditRecords(): Promise<{ action: string; target: string; result: string; code: string | null }[]>;
  close(): Promise<void>;
}

export async function startInprocDaemon(): Promise<InprocDaemon> {
  const h = await harness({ settleTimeoutMs: 10_000 });
  const db = h.store.db;
  const registryBox = secretBox(h.dir);
  const secrets = createSecretService({ db, clock: systemClock, root: h.dir, registryBox });
  const registries = createRegistryLoginService({ db, clock: systemClock, secrets: registryBox });
  const app = build({
    envs: h.envs,
    classes: h.classes,
    images: createImageService({ runner: h.runner, logins: registries }),
    registries,
    runner: h.runner,
    secrets,
    sshKeys: createSshKeyService({ db, clock: systemClock }),
    identity: createIdentityService({ db, clock: systemClock }),
    audit: createAuditService({ db, clock: systemClock }),
    quotas: createQuotaService({ db, clock: systemClock }),
    db,
    logger: false,
  });
  const socket = path.join(h.dir, "warren.sock");
  await listenUnix(app, socket);
  return {
    socket,
    h,
    app,
    auditRecords: () =>
      db
        .selectFrom("audit_records")
        .select(["action", "target", "result", "code"])
        .orderBy("id", "asc")
        .execute(),
    async close() {
      await app.close();
      await h.close();
    },
  };
}
