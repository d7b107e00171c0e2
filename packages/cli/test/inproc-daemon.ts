// The real control plane (services, HTTP app, audit trail, secrets, registry logins) in this
// process, listening on a temp unix socket, with the server tests' fake runner behind it: the
// real CLI talks to real request handling, and only the host side is fake.
import path from "node:path";
import type { FastifyInstance } from "fastify";
import { systemClock } from "../../server/src/clock.ts";
import { build } from "../../server/src/http/build.ts";
import { listenUnix } from "../../server/src/http/listen.ts";
import { createAuditService } from "../../server/src/services/audit.ts";
import { createIdentityService } from "../../server/src/services/identity.ts";
import { createImageService } from "../../server/src/services/images.ts";
import { createRegistryLoginService } from "../../server/src/services/registry-logins.ts";
import { secretBox } from "../../server/src/services/registry-secrets.ts";
import { createSecretService } from "../../server/src/services/secrets.ts";
import { createSshKeyService } from "../../server/src/services/ssh-keys.ts";
import { type Harness, harness } from "../../server/test/helpers.ts";

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
