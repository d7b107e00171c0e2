// Which kind of Feature a devcontainer.json key names, what is refused before anything is
// fetched (paths out of the repository, retired short ids, nested container engines), and that
// each refusal says what to write instead.
import assert from "node:assert/strict";
import { test } from "node:test";
import { isWarrenError } from "@warren/protocol";
import { classifyFeatureSource, featureIdOf, refuseNestedEngine } from "../src/build/features-source.ts";

const CFG = "/workspaces/app/.devcontainer";
const ROOT = "/workspaces/app";

test("keys are local folders, OCI references or tarball URLs, as the spec reads them", () => {
  assert.deepEqual(classifyFeatureSource("./features/hello", CFG, ROOT), {
    kind: "local",
    dir: "/workspaces/app/.devcontainer/features/hello",
  });
  assert.deepEqual(classifyFeatureSource("../tools/x/", CFG, ROOT), {
    kind: "local",
    dir: "/workspaces/app/tools/x",
  });
  const oci = classifyFeatureSource("ghcr.io/devcontainers/features/node:1", CFG, ROOT);
  assert.equal(oci.kind, "oci");
  if (oci.kind === "oci") {
    assert.equal(oci.ref.registry, "ghcr.io");
    assert.equal(oci.ref.repository, "devcontainers/features/node");
    assert.equal(oci.ref.tag, "1");
  }
  const local = classifyFeatureSource("127.0.0.1:5000/f/hello", CFG, ROOT);
  assert.equal(local.kind === "oci" && local.ref.tag, "latest");
  const tgz = classifyFeatureSource("https://example.com/releases/hello.tgz", CFG, ROOT);
  assert.equal(tgz.kind === "tarball" && tgz.url.hostname, "example.com");
});

test("refusals name what was wrong and what to write instead", () => {
  const refused = (source: string, what: RegExp) =>
    assert.throws(
      () => classifyFeatureSource(source, CFG, ROOT),
      (e: unknown) => isWarrenError(e) && e.code === "INVALID_ARGUMENT" && what.test(e.message),
      source,
    );
  refused("../../../etc", /outside the repository \/workspaces\/app/);
  refused("./../../other", /outside the repository/);
  refused("node", /ghcr\.io\/devcontainers\/features\/node:1/);
  refused("owner/repo/feature", /GitHub release shorthands/);
  refused("https://user:pw@example.com/x.tgz", /must not carry a login/);
  refused("", /1 to 2048 characters/);
  refused("./x\ny", /control characters/);
  refused("ghcr.io/UPPER/Case", /not an OCI reference/);
});

test("docker-in-docker and docker-outside-of-docker are refused with the alternatives", () => {
  for (const key of [
    "ghcr.io/devcontainers/features/docker-in-docker:2",
    "ghcr.io/devcontainers/features/docker-outside-of-docker:1",
    "ghcr.io/devcontainers/features/docker-in-docker@sha256:" + "a".repeat(64),
    "ghcr.io/someone/fork/docker-in-docker",
    "docker-from-docker",
  ]) {
    assert.throws(
      () => classifyFeatureSource(key, CFG, ROOT),
      (e: unknown) =>
        isWarrenError(e) &&
        /build\.dockerfile/.test(e.message) &&
        /automations\.yaml/.test(e.message) &&
        /docs\/devcontainer-features\.md/.test(e.message),
      key,
    );
  }
  // By the id a fetched Feature declares, too.
  assert.throws(() => refuseNestedEngine("docker-in-docker"), isWarrenError);
  assert.doesNotThrow(() => refuseNestedEngine("docker-compose-helper"));
  assert.doesNotThrow(() =>
    classifyFeatureSource("ghcr.io/devcontainers/features/docker-compose:1", CFG, ROOT),
  );
});

test("featureIdOf takes the last path component without version or digest", () => {
  assert.equal(featureIdOf("ghcr.io/a/b/node:1.2"), "node");
  assert.equal(featureIdOf(`ghcr.io/a/b/go@sha256:${"0".repeat(64)}`), "go");
  assert.equal(featureIdOf("https://x.example/r/hello.tgz"), "hello");
  assert.equal(featureIdOf("./features/local/"), "local");
});
