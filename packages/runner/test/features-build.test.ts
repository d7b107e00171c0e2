// The parts of a Features build decided before buildah runs: what goes into the cache key, and
// the devcontainer.metadata label written when the control plane sends none.
import assert from "node:assert/strict";
import { test } from "node:test";
import { defaultMetadataLabel, featuresKeyMaterial } from "../src/build/features-build.ts";
import type { CachedFeature } from "../src/build/features-cache.ts";

const D1 = `sha256:${"1".repeat(64)}`;
const D2 = `sha256:${"2".repeat(64)}`;

test("the cache key material changes with each Feature's digest, options, order and the users, not option order", () => {
  const one = { source: "./a", id: "a", digest: D1, options: { X: "1", Y: true } };
  const two = { source: "./b", id: "b", digest: D2, options: {} };
  const base = featuresKeyMaterial({ features: [one, two] });
  assert.equal(featuresKeyMaterial({ features: [{ ...one, options: { Y: true, X: "1" } }, two] }), base);
  for (const changed of [
    { features: [{ ...one, digest: D2 }, two] },
    { features: [{ ...one, options: { X: "2", Y: true } }, two] },
    { features: [two, one] },
    { features: [one, two], remoteUser: "dev" },
    { features: [one, two], containerUser: "dev" },
    { features: [one, two], metadataLabel: "[]" },
  ]) {
    assert.notEqual(featuresKeyMaterial(changed), base, JSON.stringify(changed));
  }
});

test("without a label from the control plane, the base's entries are kept and each Feature adds its own", () => {
  const entry = (metadata: Record<string, unknown>): CachedFeature => ({
    digest: D1,
    id: String(metadata["id"]),
    metadata,
    contentDir: "/nonexistent",
  });
  const label = defaultMetadataLabel(
    JSON.stringify({ remoteUser: "vscode" }),
    [
      { source: "ghcr.io/x/node:1", id: "node", digest: D1, options: {} },
      { source: "./y", id: "y", digest: D2, options: {} },
    ],
    [
      entry({
        id: "node",
        version: "1.0.0",
        containerEnv: { A: "1" },
        init: true,
        postCreateCommand: "echo hi",
      }),
      entry({ id: "y", capAdd: ["SYS_PTRACE"], options: { z: {} } }),
    ],
  );
  assert.deepEqual(JSON.parse(label), [
    { remoteUser: "vscode" },
    { id: "ghcr.io/x/node:1", init: true, postCreateCommand: "echo hi" },
    { id: "./y", capAdd: ["SYS_PTRACE"] },
  ]);
  // A malformed base label is dropped rather than failing the build.
  assert.deepEqual(JSON.parse(defaultMetadataLabel("{not json", [], [])), []);
});
