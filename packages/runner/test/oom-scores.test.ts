// OOM order in the specs: init at 0 (explicitly, whatever the runner's own score), its children
// and every user exec at +500, Warren's helper execs at 0.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { RunnerEnvSpec } from "@warren/protocol";
import { execProcess } from "../src/engine/env-spec.ts";
import { ociProcessFromExec } from "../src/runtime/process-file.ts";
import { buildSpec } from "../src/spec/build.ts";
import { defaultEnvSpecOptions } from "../src/spec/defaults.ts";
import { INIT_OOM_SCORE_VAR, USER_OOM_SCORE_ADJ } from "../src/spec/process.ts";

const input = {
  rootfs: "/r",
  hostname: "h",
  idMap: { hostStart: 3_000_065_536, size: 65536 },
  cgroupsPath: "/w/w-x",
  initBinary: "/opt/warren/warren-init",
  hostHardLimits: { RLIMIT_NOFILE: 20000, RLIMIT_NPROC: 96365 },
};

const spec = {
  id: "0123456789ab",
  name: "box",
  image: "img",
  runtime: "crun",
  slot: 0,
  resources: { cpus: 1, memoryBytes: 1 << 30, diskBytes: 1 << 30, pids: 100 },
} as unknown as RunnerEnvSpec;

const varOf = (env: unknown) => (env as string[]).filter((e) => e.startsWith(`${INIT_OOM_SCORE_VAR}=`));

describe("OOM scores", () => {
  it("init runs at 0 and tells warren-init to start its children at +500", () => {
    const s = buildSpec(...defaultEnvSpecOptions({ ...input, command: ["sleep", "1"], env: ["A=1"] }));
    assert.equal(USER_OOM_SCORE_ADJ, 500);
    assert.equal(s.process.oomScoreAdj, 0);
    assert.deepEqual(varOf(s.process.env), [`${INIT_OOM_SCORE_VAR}=500`]);
    assert.ok(s.process.env.includes("A=1"));
  });

  it("a user's exec starts at +500 (runtime field and init variable); a helper's at 0", () => {
    const user = execProcess(spec, { cmd: ["make"], tty: false }, []);
    assert.equal(user["oomScoreAdj"], 500);
    assert.deepEqual(varOf(user["env"]), [`${INIT_OOM_SCORE_VAR}=500`]);
    // A user's own -e cannot lower it: the runner's value comes last.
    const sneaky = execProcess(spec, { cmd: ["make"], tty: false, env: { [INIT_OOM_SCORE_VAR]: "0" } }, []);
    assert.deepEqual(varOf(sneaky["env"]), [`${INIT_OOM_SCORE_VAR}=500`]);
    const helper = execProcess(
      spec,
      { cmd: ["/.warren/relay", "listen", "/x"], tty: false, helper: true },
      [],
    );
    assert.equal(helper["oomScoreAdj"], 0);
    assert.deepEqual(varOf(helper["env"]), [`${INIT_OOM_SCORE_VAR}=0`]);
  });

  it("every process file carries a score, so none inherits the runtime's (the runner's)", () => {
    const p = ociProcessFromExec({
      args: ["true"],
      env: [],
      cwd: "/",
      uid: 0,
      gid: 0,
      tty: false,
      capabilities: [],
      rlimits: [],
    });
    assert.equal(p.oomScoreAdj, 0);
  });
});
