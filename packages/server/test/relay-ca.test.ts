// The relay CA: made once and kept sealed in the store, the same for concurrent first starts,
// still readable after `warren admin rotate-key`, and refused with a clear message by a replica
// whose secrets key differs. The leaves it issues chain to it and serve both TLS roles.
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { after, test } from "node:test";
import { ROOT, tempDir } from "@warren/testing/server-harness";
import { systemClock } from "../src/clock.ts";
import { issueLeaf, loadOrCreateCa } from "../src/relay/relay-ca.ts";
import { createSecretService, secretsBox } from "../src/services/secrets.ts";
import { openStore, type Store } from "../src/store/db.ts";

const tmp = tempDir();
const other = tempDir();
const stores: Store[] = [];
after(async () => {
  for (const s of stores) await s.close();
  tmp.cleanup();
  other.cleanup();
});
const now = () => new Date().toISOString();
function open(): Store {
  const s = openStore(tmp.dir);
  stores.push(s);
  return s;
}

test("one CA, sealed, shared by concurrent first starts, and kept across rotate-key", async () => {
  const [a, b] = [open(), open()];
  const [ca, cb] = await Promise.all([
    loadOrCreateCa(a.db, secretsBox(tmp.dir), now),
    loadOrCreateCa(b.db, secretsBox(tmp.dir), now),
  ]);
  assert.deepEqual(ca, cb, "one insert won and both use it");
  const rows = await a.db.selectFrom("relay_ca").selectAll().execute();
  assert.equal(rows.length, 1);
  const body = ca.keyPem.split("\n")[1]!;
  assert.ok(!rows[0]!.secret.includes(body) && !rows[0]!.secret.includes("PRIVATE KEY"), "stored sealed");
  assert.ok(new X509Certificate(ca.certPem).ca);

  const leaf = await issueLeaf(ca, "r1", ["IP:127.0.0.1", "DNS:localhost"]);
  const x = new X509Certificate(leaf.certPem);
  assert.ok(
    x.checkIssued(new X509Certificate(ca.certPem)) && x.verify(new X509Certificate(ca.certPem).publicKey),
  );
  assert.equal(x.ca, false);
  assert.match(x.subjectAltName ?? "", /IP Address:127\.0\.0\.1/);
  assert.match(
    x.toLegacyObject().ext_key_usage?.join(",") ?? "",
    /1\.3\.6\.1\.5\.5\.7\.3\.1.*1\.3\.6\.1\.5\.5\.7\.3\.2/,
  );
  await assert.rejects(issueLeaf(ca, "bad id/../x", []), /invalid replica id/);

  const secrets = createSecretService({ db: a.db, clock: systemClock, root: tmp.dir });
  await secrets.rotateKey(ROOT);
  const resealed = await a.db.selectFrom("relay_ca").select("secret").executeTakeFirstOrThrow();
  assert.notEqual(resealed.secret, rows[0]!.secret, "re-encrypted under the new key");
  assert.deepEqual(await loadOrCreateCa(open().db, secretsBox(tmp.dir), now), ca);

  // A replica with another secrets key cannot use the CA, and is told how to fix it.
  await assert.rejects(
    loadOrCreateCa(a.db, secretsBox(other.dir), now),
    /every replica must have the same\s+keys\//,
  );
});
