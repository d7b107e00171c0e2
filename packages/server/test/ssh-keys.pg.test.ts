// SSH keys on PostgreSQL, where replicas share the store: concurrent first starts of two replicas
// agree on one gateway host key (insert-if-absent, then read), and a user's duplicate key is
// refused by the same unique constraint as on SQLite.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { type PgCluster, startPgCluster } from "@warren/testing/pg-cluster";
import { ROOT, SYSTEM, tempDir } from "@warren/testing/server-harness";
import { systemClock } from "../src/clock.ts";
import { generateEd25519 } from "../src/services/ed25519-keypair.ts";
import { secretsBox } from "../src/services/secrets.ts";
import { createSshHostKeyService } from "../src/services/ssh-host-key.ts";
import { createSshKeyService } from "../src/services/ssh-keys.ts";
import { openStoreUrl } from "../src/store/pg-store.ts";

let cluster: PgCluster | undefined;
const cleanups: (() => Promise<void> | void)[] = [];
before(async () => {
  cluster = await startPgCluster();
});
after(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await cluster?.stop();
});

test("two replicas' concurrent first starts serve one host key; duplicates of a user's key are refused", async () => {
  const name = await cluster!.createDatabase({ migrated: true });
  cleanups.push(() => cluster!.dropDatabase(name));
  // Replicas share the secrets key (one root here); each has its own store and box.
  const tmp = tempDir();
  cleanups.push(tmp.cleanup);
  const replicas = [];
  for (let i = 0; i < 2; i++) {
    const store = await openStoreUrl(cluster!.url(name));
    cleanups.push(() => store.close());
    replicas.push({
      store,
      hostKeys: createSshHostKeyService({ db: store.db, clock: systemClock, box: secretsBox(tmp.dir) }),
    });
  }
  const got = await Promise.all([...replicas, ...replicas].map((r) => r.hostKeys.hostKey(SYSTEM)));
  for (const k of got) assert.deepEqual(k, got[0]);
  const rows = await replicas[0]!.store.db.selectFrom("ssh_host_keys").select("fingerprint").execute();
  assert.deepEqual(rows, [{ fingerprint: got[0]!.fingerprint }]);

  const keys = createSshKeyService({ db: replicas[1]!.store.db, clock: systemClock });
  const pub = generateEd25519().public;
  const added = await keys.add(ROOT, { publicKey: pub, name: "pg" });
  await assert.rejects(
    keys.add(ROOT, { publicKey: pub }),
    (e: Error & { code?: string }) => e.code === "SSH_KEY_EXISTS",
  );
  assert.deepEqual(
    (await keys.list(ROOT)).map((k) => k.id),
    [added.id],
  );
});
