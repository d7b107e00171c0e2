import assert from "node:assert/strict";
import { test } from "node:test";
import { featureOptions, missingDependencies, orderFeatures } from "@warren/devcontainer";

const f = (source: string, metadata: Record<string, unknown> = {}) => ({
  source,
  id: source.split("/").pop()!.split(":")[0]!,
  metadata,
});

const ORDER: [string, ReturnType<typeof f>[], string[] | undefined, string[]][] = [
  ["independent ones sort by reference", [f("./b"), f("./a")], undefined, ["./a", "./b"]],
  ["dependsOn is hard", [f("./a", { dependsOn: { "./b": {} } }), f("./b")], undefined, ["./b", "./a"]],
  ["installsAfter is soft", [f("./a", { installsAfter: ["./z"] }), f("./z")], undefined, ["./z", "./a"]],
  [
    "installsAfter on an absent Feature is dropped",
    [f("./a", { installsAfter: ["./gone"] })],
    undefined,
    ["./a"],
  ],
  [
    "installsAfter matches an OCI reference without its version",
    [f("ghcr.io/o/node:1", { installsAfter: ["ghcr.io/o/common-utils"] }), f("ghcr.io/o/common-utils:2")],
    undefined,
    ["ghcr.io/o/common-utils:2", "ghcr.io/o/node:1"],
  ],
  [
    "legacy ids match",
    [
      f("ghcr.io/o/new:1", { id: "new", legacyIds: ["old"] }),
      f("ghcr.io/o/x:1", { installsAfter: ["ghcr.io/o/old"] }),
    ],
    undefined,
    ["ghcr.io/o/new:1", "ghcr.io/o/x:1"],
  ],
  [
    "override goes first within what is ready",
    [f("./a"), f("./b"), f("./c")],
    ["./c", "./b"],
    ["./c", "./b", "./a"],
  ],
  [
    "override never breaks dependsOn",
    [f("./a", { dependsOn: { "./b": {} } }), f("./b"), f("./c")],
    ["./a"],
    ["./b", "./c", "./a"],
  ],
  [
    "rounds: a dependant waits for its round",
    [f("./c", { dependsOn: { "./a": {} } }), f("./a"), f("./b")],
    undefined,
    ["./a", "./b", "./c"],
  ],
];

for (const [name, features, override, want] of ORDER) {
  test(`orderFeatures: ${name}`, () => {
    assert.deepEqual(orderFeatures(features, override), want);
  });
}

test("orderFeatures: a cycle, a missing dependency and an unknown override are clear errors", () => {
  assert.throws(
    () => orderFeatures([f("./a", { dependsOn: { "./b": {} } }), f("./b", { installsAfter: ["./a"] })]),
    /cycle .*\.\/a, \.\/b/,
  );
  assert.throws(
    () => orderFeatures([f("./a", { dependsOn: { "./b": {} } })]),
    /depends on \.\/b, which is not among the Features/,
  );
  assert.throws(() => orderFeatures([f("./a")], ["./zzz"]), /overrideFeatureInstallOrder names \.\/zzz/);
});

test("missingDependencies lists hard dependencies to fetch, once", () => {
  assert.deepEqual(
    missingDependencies([
      f("./a", { dependsOn: { "ghcr.io/o/x:1": { v: "2" }, "./b": {} } }),
      f("./b", { dependsOn: { "ghcr.io/o/x:1": {} } }),
    ]),
    [{ source: "ghcr.io/o/x:1", options: { v: "2" } }],
  );
});

const OPTIONS = {
  options: {
    version: { type: "string", default: "lts" },
    "install-tools": { type: "boolean", default: true },
    "2fa.mode": { type: "string" },
  },
};

test("featureOptions applies defaults, given values and the spec's names", () => {
  assert.deepEqual(featureOptions(OPTIONS, undefined), { VERSION: "lts", INSTALL_TOOLS: true });
  assert.deepEqual(featureOptions(OPTIONS, { version: "20", "2fa.mode": "x" }), {
    VERSION: "20",
    INSTALL_TOOLS: true,
    _FA_MODE: "x",
  });
  assert.deepEqual(featureOptions(OPTIONS, "18"), { VERSION: "18", INSTALL_TOOLS: true });
  assert.deepEqual(featureOptions({ options: { flavour: { default: "plain" } } }, "18"), {
    FLAVOUR: "plain",
  });
  assert.deepEqual(featureOptions({}, true), {});
});
