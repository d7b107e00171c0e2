// Part of the shared store suite (store-suite.ts runs it on SQLite and PostgreSQL): registry
// logins and images belong to an organisation from migration 010 on.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { BOOTSTRAP_ORG_ID } from "../src/store/migrations/005_identity.ts";
import { MIGRATIONS } from "../src/store/migrations/index.ts";
import {
  getRegistryCredential,
  listRegistryCredentials,
  upsertRegistryCredential,
} from "../src/store/queries/registry-credentials.ts";
import { V1_ROWS } from "./store-fixtures.ts";
import { type StoreBackend, withFreshDb } from "./store-suite.ts";

export function orgRegistrySuite(backend: StoreBackend): void {
  describe(`registry logins and images per organisation on ${backend.name}`, () => {
    test(
      "upgrade to 010 gives old registry logins and images in use to the bootstrap organisation",
      withFreshDb(backend, false, async (t) => {
        await t.migrate(MIGRATIONS.filter((x) => x.version < 10));
        for (const sql of V1_ROWS) await t.exec(sql);
        await t.exec(`insert into orgs (id, name, created_at) values ('org_b', 'b', 't')`);
        await t.exec(`insert into environments (id, name, class_name, image, runtime, cpus, memory_bytes,
        disk_bytes, pids, slot, desired, state, created_at, updated_at, org_id)
        values ('bbbbbbbbbbbb', 'b-env', 'old', 'reg.example/b:1', 'crun', 1, 1073741824,
        5368709120, 100, 1, 'running', 'running', 't', 't', 'org_b')`);
        await t.exec(`insert into registry_credentials (host, username, secret, created_at, updated_at)
        values ('reg.example', 'u', 'sealed', 'c', 'u')`);
        const s = await t.open();
        try {
          assert.deepEqual(
            (await listRegistryCredentials(s.db, BOOTSTRAP_ORG_ID)).map((r) => [r.host, r.secret]),
            [["reg.example", "sealed"]],
          );
          assert.deepEqual(await listRegistryCredentials(s.db, "org_b"), []);
          const held = await s.db
            .selectFrom("org_images")
            .select(["org_id", "ref", "digest"])
            .orderBy("org_id")
            .orderBy("ref")
            .execute();
          assert.deepEqual(
            held.map((r) => [r.org_id, r.ref, r.digest]),
            [
              ["org_b", "reg.example/b:1", null],
              [BOOTSTRAP_ORG_ID, "img", null],
              [BOOTSTRAP_ORG_ID, "reg.example/b:1", null],
            ],
          );
          // The new key: a second org's login for the same host is a second row, not a conflict.
          await upsertRegistryCredential(s.db, {
            org_id: "org_b",
            host: "reg.example",
            username: "b",
            secret: "x",
            created_at: "c",
            updated_at: "c",
          });
          assert.equal((await getRegistryCredential(s.db, BOOTSTRAP_ORG_ID, "reg.example"))?.username, "u");
        } finally {
          await s.close();
        }
      }),
    );
  });
}
