// A runner's id range holds a fixed number of 65,536-id blocks; once all are taken, create is
// refused up front (not retried forever by the reconciler), and nothing is left behind.
import assert from "node:assert/strict";
import { test } from "node:test";
import { isWarrenError } from "@warren/protocol";
import { FakeRunner } from "@warren/testing/fake-runner";
import { harness, ROOT } from "@warren/testing/server-harness";

test("create is refused with CAPACITY_EXHAUSTED when every slot is taken", async () => {
  const runner = new FakeRunner();
  runner.slots = 2;
  const h = await harness({ runner });
  try {
    await h.envs.create(ROOT, { name: "a" });
    await h.envs.create(ROOT, { name: "b" });
    await assert.rejects(
      () => h.envs.create(ROOT, { name: "c" }),
      (e) => isWarrenError(e, "CAPACITY_EXHAUSTED") && /room for 2 environments/.test(e.message),
    );
    assert.deepEqual((await h.envs.list(ROOT)).map((e) => e.name).sort(), ["a", "b"]);
    await h.envs.delete(ROOT, "a", true);
    const c = await h.envs.create(ROOT, { name: "c" });
    assert.equal(c.env.slot, 0, "a freed slot is reused");
  } finally {
    await h.close();
  }
});
