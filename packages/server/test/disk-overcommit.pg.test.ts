// Disk overcommit on PostgreSQL, where a create is admitted by one statement (fleet-admission.ts
// admitInOneStatement): the same twenty concurrent creates as on SQLite, the same outcomes.
import { after, before, test } from "node:test";
import { type PgCluster, startPgCluster } from "@warren/testing/pg-cluster";
import { type AnyStore, openStoreAt } from "../src/store/db.ts";
import { allFitAtFourToOne, eighthRefusedAtOneToOne } from "./disk-overcommit-world.ts";

let cluster: PgCluster | undefined;
const stores: AnyStore[] = [];
before(async () => {
  cluster = await startPgCluster();
});
after(async () => {
  for (const s of stores) await s.close();
  await cluster?.stop();
});

async function store() {
  const s = await openStoreAt(cluster!.url(await cluster!.createDatabase({ migrated: true })));
  stores.push(s);
  return s.db;
}

test("postgresql, 4:1: twenty concurrent 10 GiB creates all fit on 78 GiB free", async () =>
  allFitAtFourToOne(await store()));

test("postgresql, 1:1: the eighth is refused for disk, with the figures", async () =>
  eighthRefusedAtOneToOne(await store()));
