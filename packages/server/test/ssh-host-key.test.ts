// The SSH gateway's host key: generated once, stored sealed in the database, the same across a
// restart (a new store and service on the same files) and across concurrent first starts, and
// still readable after `warren admin rotate-key`, by a process that cached the old key and by a new one.
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { ROOT, SYSTEM, tempDir } from "@warren/testing/server-harness";
import ssh2 from "ssh2";
import { systemClock } from "../src/clock.ts";
import { createSecretService, secretsBox } from "../src/services/secrets.ts";
import { createSshHostKeyService } from "../src/services/ssh-host-key.ts";
import { openStore, type Store } from "../src/store/db.ts";

const tmp = tempDir();
const stores: Store[] = [];
after(async () => {
  for (const s of stores) await s.close();
  tmp.cleanup();
});
/** A "start": a store opened on the data dir and a host-key service with a box of its own. */
function start() {
  const store = openStore(tmp.dir);
  stores.push(store);
  return {
    store,
    keys: createSshHostKeyService({ db: store.db, clock: systemClock, box: secretsBox(tmp.dir) }),
  };
}

test("generated once, sealed, the same across starts and concurrent first reads, and after rotate-key", async () => {
  const a = start();
  const b = start();
  // Two first starts at once: both generate, one insert wins, both serve the winner.
  const [ka, kb] = await Promise.all([a.keys.hostKey(SYSTEM), b.keys.hostKey(SYSTEM)]);
  assert.deepEqual(ka, kb);
  assert.equal(ka.type, "ssh-ed25519");
  const parsed = ssh2.utils.parseKey(ka.privateKey);
  assert.ok(!(parsed instanceof Error) && parsed.isPrivateKey() && parsed.type === "ssh-ed25519");
  assert.equal(
    `${parsed.type} ${parsed.getPublicSSH().toString("base64")}`,
    ka.publicKey,
    "the pair matches",
  );

  const rows = await a.store.db.selectFrom("ssh_host_keys").selectAll().execute();
  assert.equal(rows.length, 1);
  const sealed = rows[0]!.secret;
  const body = ka.privateKey.split("\n").slice(1, -2).join("");
  assert.ok(!sealed.includes(body.slice(0, 40)) && !sealed.includes("PRIVATE KEY"), "stored sealed");

  // A restart: everything reopened from disk.
  await a.store.close();
  const c = start();
  assert.deepEqual(await c.keys.hostKey(SYSTEM), ka);

  // rotate-key re-seals it; `b` still holds the old key in its box, `c` too, a new start has none.
  const secrets = createSecretService({ db: c.store.db, clock: systemClock, root: tmp.dir });
  await secrets.rotateKey(ROOT);
  const resealed = await c.store.db.selectFrom("ssh_host_keys").select("secret").executeTakeFirstOrThrow();
  assert.notEqual(resealed.secret, sealed, "re-encrypted under the new key");
  assert.deepEqual(await b.keys.hostKey(SYSTEM), ka);
  assert.deepEqual(await c.keys.hostKey(SYSTEM), ka);
  assert.deepEqual(await start().keys.hostKey(SYSTEM), ka);
});

test("only the system reads it", async () => {
  const { keys } = start();
  await assert.rejects(keys.hostKey(ROOT), /not open to/);
});
