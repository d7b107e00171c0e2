// Crash at every named step of create (the daemon is SIGKILLed there by WARREN_FAILPOINT), then
// restart: the environment must end running, or failed with a reason, and after rm nothing of
// it may remain on the host.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { FAILPOINTS } from "@warren/protocol";
import { type Harness, makeHarness } from "@warren/testing/e2e-harness";

const CREATE_STEPS = FAILPOINTS.filter((f) => f !== "stop-kill" && f !== "remove-unmount");

describe("failpoints during create (e2e)", { timeout: 900_000 }, () => {
  let h: Harness;
  before(async () => {
    h = await makeHarness("fail");
  });
  after(async () => {
    await h?.teardown();
  });

  it("covers at least 8 named steps", () => {
    assert.ok(CREATE_STEPS.length >= 8, CREATE_STEPS.join(", "));
  });

  for (const step of CREATE_STEPS) {
    it(`a crash at ${step} converges after restart and leaves nothing after rm`, async (t) => {
      t.after(() => h.killDaemon());
      await h.startDaemon({ WARREN_FAILPOINT: step });
      const name = `fp-${step}`;
      const r = h.cli(["up", "--name", name, "--disk", "512m", "--detach"]);
      assert.notEqual(r.status, 0, "the daemon died at the failpoint, so up cannot succeed");
      // The daemon is gone (killed itself); make sure of it.
      for (let i = 0; i < 50 && h.daemon && h.daemon.exitCode === null && h.daemon.signalCode === null; i++)
        await sleep(100);
      await h.killDaemon();

      await h.startDaemon();
      let state = "";
      let reason = "";
      for (let i = 0; i < 150; i++) {
        const envs = await h.client.listEnvironments();
        const e = envs.find((x) => x.name === name);
        if (!e) {
          state = "absent";
          break;
        }
        state = e.state;
        reason = e.conditions.map((c) => c.message).join("; ");
        if (state === "running" || state === "failed") break;
        await sleep(100);
      }
      if (step === "row-insert") {
        assert.ok(state === "running" || state === "absent" || state === "failed", state);
      } else {
        assert.ok(state === "running" || (state === "failed" && reason.length > 0), `${state} ${reason}`);
      }
      if (state === "running") {
        assert.equal(h.cli(["exec", name, "--", "true"]).status, 0);
      }
      if (state !== "absent") assert.equal(h.cli(["rm", "-f", name]).status, 0);
      assert.deepEqual(h.leftovers(), []);
      await h.killDaemon();
    });
  }
});
