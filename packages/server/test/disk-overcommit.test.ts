// Disk overcommit on SQLite (disk-overcommit-world.ts): twenty concurrent creates of 10 GiB
// disks against 78 GiB free all fit at the default 4:1, and a 1:1 class refuses the eighth.
import assert from "node:assert/strict";
import { afterEach, test } from "node:test";
import { isWarrenError } from "@warren/protocol";
import { ROOT, tempDir } from "@warren/testing/server-harness";
import { openStore } from "../src/store/db.ts";
import { allFitAtFourToOne, diskWorld, eighthRefusedAtOneToOne } from "./disk-overcommit-world.ts";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function store() {
  const tmp = tempDir("warren-disk-overcommit-");
  const s = openStore(tmp.dir);
  cleanups.push(async () => {
    await s.close();
    tmp.cleanup();
  });
  return s.db;
}

test("4:1 (the default): twenty 10 GiB environments all fit on 78 GiB free", () =>
  allFitAtFourToOne(store()));

test("1:1: the eighth 10 GiB environment is refused for disk, with the figures", () =>
  eighthRefusedAtOneToOne(store()));

test("a class refuses a disk overcommit out of bounds, naming them", async () => {
  const w = diskWorld(store());
  for (const bad of [0.5, 65, Number.NaN]) {
    await assert.rejects(
      w.classes.create(ROOT, { name: "bad", ...w.base, diskOvercommit: bad }),
      (err: unknown) =>
        isWarrenError(err, "INVALID_ARGUMENT") &&
        /disk overcommit .* use a number from 1 to 64/.test(err.message),
    );
  }
});
