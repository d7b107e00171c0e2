// biome-ignore-all lint/suspicious/noTemplateCurlyInString: devcontainer.json variables are written ${like:this} in plain strings
import assert from "node:assert/strict";
import { test } from "node:test";
import { devcontainerId, localEnvNames, substituteVariables } from "@warren/devcontainer";

const vars = {
  localWorkspaceFolder: "/home/ada/src/shop",
  containerWorkspaceFolder: "/workspaces/${localWorkspaceFolderBasename}",
  localEnv: { USER: "ada", HAS_COLON: "a:b" } as Record<string, string>,
  devcontainerId: "ID52",
};

const CASES: [string, string, Partial<typeof vars> & { containerEnv?: Record<string, string> }][] = [
  ["${localEnv:USER}", "ada", {}],
  ["${env:USER}", "ada", {}],
  ["${localEnv:NOPE}", "", {}],
  ["${localEnv:NOPE:fallback}", "fallback", {}],
  ["${localEnv:HAS_COLON}", "a:b", {}],
  ["${localWorkspaceFolder}", "/home/ada/src/shop", {}],
  ["${localWorkspaceFolderBasename}", "shop", {}],
  ["${containerWorkspaceFolder}", "/workspaces/shop", {}],
  ["${containerWorkspaceFolderBasename}", "shop", {}],
  ["cache-${devcontainerId}", "cache-ID52", {}],
  ["${containerEnv:PATH}:/x", "${containerEnv:PATH}:/x", {}],
  ["${containerEnv:PATH}:/x", "/bin:/x", { containerEnv: { PATH: "/bin" } }],
  ["${unknown} ${localEnv:USER}", "${unknown} ada", {}],
  // Substituted once: a value that itself looks like a variable is not expanded again by its own pass.
  ["${localEnv:TRICK}", "${localEnv:USER}", { localEnv: { TRICK: "${localEnv:USER}" } }],
];

for (const [input, want, extra] of CASES) {
  test(`substitutes ${input}`, () => {
    const out = substituteVariables({ containerEnv: { V: input } }, { ...vars, ...extra });
    assert.equal(out.containerEnv.V, want);
  });
}

test("substitution walks arrays and objects, keeps keys and non-strings, and leaves the input alone", () => {
  const input = {
    mounts: ["source=${localEnv:USER},target=/d"],
    init: true,
    n: 3,
    hooks: { "${localEnv:USER}": ["${localEnv:USER}"] },
  };
  const out = substituteVariables(input, vars);
  assert.deepEqual(out, {
    mounts: ["source=ada,target=/d"],
    init: true,
    n: 3,
    hooks: { "${localEnv:USER}": ["ada"] },
  });
  assert.equal(input.mounts[0], "source=${localEnv:USER},target=/d");
});

test("localEnvNames lists the local variables a configuration uses, once each", () => {
  const text =
    '{"a": "${localEnv:HOME}", "b": "${env:TOKEN:x} ${localEnv:HOME}", "c": "${containerEnv:PATH}"}';
  assert.deepEqual(localEnvNames(text), ["HOME", "TOKEN"]);
});

test("devcontainerId: 52 base-32 digits, independent of label order, different for different labels", () => {
  const a = devcontainerId({
    "devcontainer.local_folder": "/w",
    "devcontainer.config_file": "/w/.devcontainer/devcontainer.json",
  });
  const b = devcontainerId({
    "devcontainer.config_file": "/w/.devcontainer/devcontainer.json",
    "devcontainer.local_folder": "/w",
  });
  assert.match(a, /^[0-9a-v]{52}$/);
  assert.equal(a, b);
  assert.notEqual(a, devcontainerId({ "devcontainer.local_folder": "/v" }));
});
