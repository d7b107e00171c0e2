// containerEnv and named volumes on the runner side: which volume targets and names are refused
// (and why), and that exec'd processes get containerEnv after the image's env and before the
// request's own variables.
import assert from "node:assert/strict";
import { test } from "node:test";
import { isWarrenError, type RunnerEnvSpec } from "@warren/protocol";
import { execProcess } from "../src/engine/env-spec.ts";
import { checkEnvAdditions, specEnvPairs } from "../src/engine/env-volumes.ts";

const spec: RunnerEnvSpec = {
  id: "abcdefabcdef",
  name: "dev",
  slot: 0,
  image: "img",
  runtime: "crun",
  resources: { cpus: 1, memoryBytes: 1 << 28, diskBytes: 1 << 28, pids: 100 },
};

for (const [what, volumes, pattern] of [
  ["a relative target", [{ name: "v", target: "data" }], /clean absolute path/],
  ["the root", [{ name: "v", target: "/" }], /other than \//],
  ["a target with ..", [{ name: "v", target: "/a/../proc" }], /clean absolute path/],
  ["/proc", [{ name: "v", target: "/proc/x" }], /under \/proc/],
  ["/sys", [{ name: "v", target: "/sys" }], /under \/proc, \/sys/],
  ["/dev", [{ name: "v", target: "/dev/shm" }], /which Warren provides/],
  ["/.warren", [{ name: "v", target: "/.warren/init" }], /which Warren provides/],
  ["a name with a slash", [{ name: "a/b", target: "/data" }], /volume name/],
  ["a name of ..", [{ name: "..", target: "/data" }], /volume name/],
  [
    "two at one target",
    [
      { name: "a", target: "/d" },
      { name: "b", target: "/d/" },
    ],
    /two volumes/,
  ],
] as const) {
  test(`volumes: ${what} is refused`, () => {
    assert.throws(
      () => checkEnvAdditions({ volumes: volumes.map((v) => ({ ...v })) }),
      (err: unknown) => isWarrenError(err) && err.code === "INVALID_ARGUMENT" && pattern.test(err.message),
    );
  });
}

test("volumes and containerEnv that are fine pass", () => {
  assert.doesNotThrow(() =>
    checkEnvAdditions({
      volumes: [
        { name: "node_modules", target: "/workspaces/dev/node_modules" },
        { name: "cache.1", target: "/root/.cache" },
      ],
      env: { NODE_ENV: "development", _X: "" },
    }),
  );
  assert.throws(() => checkEnvAdditions({ env: { "BAD-NAME": "x" } }), /invalid variable/);
});

test("exec: image env, then containerEnv, then the request's variables", () => {
  const withEnv = { ...spec, env: { A: "from-spec", B: "from-spec" } };
  assert.deepEqual(specEnvPairs(withEnv), ["A=from-spec", "B=from-spec"]);
  const proc = execProcess(withEnv, { cmd: ["env"], tty: false, env: { B: "from-request" } }, [
    "A=from-image",
    "C=from-image",
  ]) as { env: string[] };
  assert.ok(proc.env.includes("A=from-spec"));
  assert.ok(proc.env.includes("B=from-request"));
  assert.ok(proc.env.includes("C=from-image"));
});
