import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { test } from "node:test";
import { unprotected } from "../src/host/oom-protection.ts";

test("a protected runner starts users' work at score 0; an unprotected one runs it unchanged", () => {
  assert.deepEqual(unprotected("buildah", ["build", "."], -1000), [
    "choom",
    ["-n", "0", "--", "buildah", "build", "."],
  ]);
  assert.deepEqual(unprotected("buildah", ["build"], 0), ["buildah", ["build"]]);
  assert.deepEqual(unprotected("buildah", ["build"], 300), ["buildah", ["build"]]);
});

test("choom raises a lowered score back to 0 without privilege (the kernel allows raising)", (t) => {
  // A child lowered to -500 first (root here may lower; the runner under systemd is at -1000).
  const lowered = spawnSync("choom", ["-n", "-500", "--", "sh", "-c", "cat /proc/self/oom_score_adj"], {
    encoding: "utf8",
  });
  if (lowered.status !== 0) {
    // Without CAP_SYS_RESOURCE (as on these test machines) no score can go below 0, so there is
    // nothing to undo and the wrapper is never used; the runner under systemd has the capability.
    assert.match(lowered.stderr, /permission|not permitted/i);
    t.skip("this host cannot lower an OOM score (no CAP_SYS_RESOURCE), so nothing here needs raising");
    return;
  }
  assert.equal(lowered.stdout.trim(), "-500");
  const [cmd, args] = unprotected("sh", ["-c", "cat /proc/self/oom_score_adj"], -500);
  const out = execFileSync("choom", ["-n", "-500", "--", cmd, ...args], { encoding: "utf8" });
  assert.equal(out.trim(), "0");
});
