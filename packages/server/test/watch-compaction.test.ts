// The watch log compacts itself as it grows: the recorder reads the compaction mark only when the
// last mark it saw says compaction may be due, and must still compact again and again.
import assert from "node:assert/strict";
import { test } from "node:test";
import { harness, ROOT } from "@warren/testing/server-harness";
import { systemClock } from "../src/clock.ts";
import { silentLogger } from "../src/logger.ts";
import { createEnvWatchService } from "../src/services/watch.ts";
import { compactedEnvChange } from "../src/store/queries/env-changes.ts";

test("the change log stays bounded and the compaction mark keeps moving", async () => {
  const h = await harness({ autoReconcile: false });
  const retain = 3;
  const watch = createEnvWatchService({
    db: h.store.db,
    changes: h.changes,
    clock: systemClock,
    logger: silentLogger,
    retain,
  });
  try {
    const { env } = await h.envs.create(ROOT, { name: "busy" }, { wait: false });
    await watch.sync();
    const marks = new Set<number>();
    let most = 0;
    for (let i = 0; i < 40; i++) {
      // A change the recorder sees: the row's state flips, and the feed names it.
      const state = i % 2 === 0 ? "creating" : "pending";
      await h.store.db.updateTable("environments").set({ state }).where("id", "=", env.id).execute();
      h.changes.emit(env.id);
      const newest = await watch.sync();
      const mark = await compactedEnvChange(h.store.db);
      if (mark > 0) marks.add(mark);
      assert.ok(newest - mark <= 2 * retain, `compacted late: newest ${newest}, mark ${mark}`);
      const { n } = await h.store.db
        .selectFrom("env_changes")
        .select((eb) => eb.fn.countAll<number>().as("n"))
        .executeTakeFirstOrThrow();
      most = Math.max(most, Number(n));
    }
    assert.ok(marks.size >= 5, `compacted ${marks.size} times over 40 changes with retain ${retain}`);
    assert.ok(most <= 2 * retain + 1, `the log grew to ${most} rows`);
  } finally {
    await watch.close();
    await h.close();
  }
});
