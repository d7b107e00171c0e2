// The RunnerLifecycle contract, one suite for every implementation: idempotent start, stop and
// remove; what observe and list report; a live resize; a sweep that keeps exactly `keep`.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { EnvObserved, RunnerEnvSpec, RunnerLifecycle } from "@warren/protocol";
import { type RunnerSubject, rejectsWithCode, unknownId } from "./subject.ts";

const byId = (list: EnvObserved[], id: string) => list.find((o) => o.id === id);

export function lifecycleConformance(
  name: string,
  makeSubject: () => Promise<RunnerSubject<RunnerLifecycle>>,
): void {
  describe(`RunnerLifecycle conformance: ${name}`, () => {
    let s: RunnerSubject<RunnerLifecycle>;
    /** The environment the start test made, reused by the sweep and remove tests (starts are slow). */
    let started: RunnerEnvSpec | undefined;
    before(async () => {
      s = await makeSubject();
    });
    after(async () => {
      await s?.cleanup();
    });

    it("observe of an id the host has nothing of says absent, and list does not name it", async () => {
      const id = unknownId();
      assert.deepEqual(await s.api.observe(id), { id, state: "absent" });
      assert.equal(byId(await s.api.list(), id), undefined);
    });

    it("ensureRunning starts once: a second call finds the same init running", async () => {
      const spec = s.envSpec("life-start");
      const first = await s.api.ensureRunning(spec);
      assert.equal(first.id, spec.id);
      assert.equal(first.state, "running");
      assert.equal(first.runtime, s.runtime);
      assert.deepEqual(first.resources, spec.resources);
      assert.ok(
        Number.isInteger(first.pid) && (first.pid ?? 0) > 0,
        `a running environment has its init's pid: ${first.pid}`,
      );
      const again = await s.api.ensureRunning(spec);
      assert.equal(again.state, "running");
      assert.equal(again.pid, first.pid, "the second ensureRunning must not restart it");
      assert.equal((await s.api.observe(spec.id)).pid, first.pid);
      assert.equal(byId(await s.api.list(), spec.id)?.state, "running");

      // A live resize: the new limits are what observe reports from then on.
      const bigger = {
        ...spec,
        resources: { ...spec.resources, memoryBytes: spec.resources.memoryBytes * 2, pids: 256 },
      };
      const resized = await s.api.setResources(bigger);
      assert.equal(resized.state, "running");
      assert.deepEqual(resized.resources, bigger.resources);
      assert.deepEqual((await s.api.observe(spec.id)).resources, bigger.resources);
      assert.equal((await s.api.observe(spec.id)).pid, first.pid, "a resize does not restart it");

      // Stopped twice: still there (its disk kept), listed as stopped, and it starts again.
      const stopped = await s.api.ensureStopped(bigger, 0);
      assert.equal(stopped.state, "stopped");
      assert.equal(stopped.pid, undefined, "a stopped environment has no init");
      assert.equal((await s.api.ensureStopped(bigger, 0)).state, "stopped");
      assert.equal(byId(await s.api.list(), spec.id)?.state, "stopped");
      const restarted = await s.api.ensureRunning(bigger);
      assert.equal(restarted.state, "running");
      assert.ok((restarted.pid ?? 0) > 0);

      started = bigger;
    });

    it("ensureStopped and remove of an environment never started change nothing and do not fail", async () => {
      const spec = s.envSpec("life-never");
      const o = await s.api.ensureStopped(spec, 0);
      assert.notEqual(o.state, "running");
      await s.api.remove(spec.id);
      assert.deepEqual(await s.api.observe(spec.id), { id: spec.id, state: "absent" });
    });

    it("setResources of an environment the host has nothing of is ENV_NOT_RUNNING", async () => {
      const spec = s.envSpec("life-resize");
      await rejectsWithCode(s.api.setResources(spec), "ENV_NOT_RUNNING");
    });

    it("sweep removes the environments not in keep, returns their ids, and leaves keep alone", async () => {
      const kept = started ?? s.envSpec("life-kept");
      const gone = s.envSpec("life-gone");
      await s.api.ensureRunning(kept);
      await s.api.ensureRunning(gone);
      const keep = new Set((await s.api.list()).map((o) => o.id).filter((id) => id !== gone.id));
      assert.ok(keep.has(kept.id));
      const swept = await s.api.sweep(keep);
      assert.deepEqual(swept, [gone.id]);
      assert.equal((await s.api.observe(gone.id)).state, "absent");
      assert.equal((await s.api.observe(kept.id)).state, "running");
      assert.deepEqual(await s.api.sweep(keep), [], "nothing is left to sweep");
    });

    it("remove is idempotent: the environment is absent and no longer listed", async () => {
      const spec = started ?? s.envSpec("life-remove");
      await s.api.ensureRunning(spec);
      await s.api.remove(spec.id);
      await s.api.remove(spec.id);
      assert.deepEqual(await s.api.observe(spec.id), { id: spec.id, state: "absent" });
      assert.equal(byId(await s.api.list(), spec.id), undefined);
    });
  });
}
