import assert from "node:assert/strict";
import { test } from "node:test";
import { isWarrenError, namesRegistry, normalizeRegistryHost, parseImageRef } from "../src/index.ts";

test("parses references like Docker", () => {
  const cases: [string, string, string, string | undefined, string | undefined][] = [
    ["127.0.0.1:5000/two:1", "127.0.0.1:5000", "two", "1", undefined],
    ["127.0.0.1:5000/team/two", "127.0.0.1:5000", "team/two", "latest", undefined],
    ["localhost/x", "localhost", "x", "latest", undefined],
    ["registry.example.com/a/b/c:v1.2-rc_3", "registry.example.com", "a/b/c", "v1.2-rc_3", undefined],
    ["debian", "docker.io", "library/debian", "latest", undefined],
    ["debian:bookworm", "docker.io", "library/debian", "bookworm", undefined],
    ["myorg/tools:1.0", "docker.io", "myorg/tools", "1.0", undefined],
    ["index.docker.io/library/alpine", "docker.io", "library/alpine", "latest", undefined],
    ["[::1]:5000/x:y", "[::1]:5000", "x", "y", undefined],
  ];
  for (const [input, registry, repository, tag, digest] of cases) {
    const r = parseImageRef(input);
    assert.deepEqual([r.registry, r.repository, r.tag, r.digest], [registry, repository, tag, digest], input);
  }
  const d = `sha256:${"a".repeat(64)}`;
  const r = parseImageRef(`h.io/x@${d}`);
  assert.deepEqual([r.tag, r.digest, r.canonical], [undefined, d, `h.io/x@${d}`]);
  assert.equal(parseImageRef(`h.io/x:t@${d}`).canonical, `h.io/x:t@${d}`);
  assert.equal(parseImageRef("127.0.0.1:5000/two").canonical, "127.0.0.1:5000/two:latest");
});

test("refuses malformed references with a fix", () => {
  for (const bad of [
    "",
    "UPPER/x",
    "h.io/x@sha256:short",
    "h.io/x@md5:abc",
    "h.io/x:bad tag",
    "h.io//x",
    "h.io/x/../y",
  ]) {
    assert.throws(
      () => parseImageRef(bad),
      (e) => isWarrenError(e, "INVALID_ARGUMENT") && /HOST\[:PORT\]\/REPO/.test(e.message),
      bad,
    );
  }
});

test("names a registry only when the first component is a host", () => {
  assert.equal(namesRegistry("127.0.0.1:5000/x"), true);
  assert.equal(namesRegistry("localhost/x"), true);
  assert.equal(namesRegistry("reg.example.com/x:1"), true);
  assert.equal(namesRegistry("myorg/tools:1.0"), false);
  assert.equal(namesRegistry("warren/debian:bookworm"), false);
  assert.equal(namesRegistry("debian"), false);
});

test("normalizes registry hosts for logins", () => {
  assert.equal(normalizeRegistryHost("Registry.Example.com:5000"), "registry.example.com:5000");
  assert.equal(normalizeRegistryHost("https://index.docker.io/"), "docker.io");
  assert.throws(
    () => normalizeRegistryHost("a b"),
    (e) => isWarrenError(e, "INVALID_ARGUMENT"),
  );
  assert.throws(
    () => normalizeRegistryHost("host/path"),
    (e) => isWarrenError(e, "INVALID_ARGUMENT"),
  );
});
