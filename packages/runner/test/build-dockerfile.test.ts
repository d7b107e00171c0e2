// The builder's pure parts: FROM lines and ARG substitution, refused ADD sources, the rewrite to
// local layouts, buildah's argv (never chroot isolation; the environment's ids, netns, limits)
// and the cache key (same inputs, same key; any input changed, another key).
import assert from "node:assert/strict";
import { test } from "node:test";
import { isWarrenError } from "@warren/protocol";
import { type BudPlan, buildahBudArgs } from "../src/build/buildah.ts";
import { buildRef, dockerfileKey } from "../src/build/cache-key.ts";
import { rewriteFrom, scanDockerfile, substituteArgs } from "../src/build/dockerfile-scan.ts";

test("FROM images: ARGs before FROM, build args over defaults, stages and scratch are local", () => {
  const text = [
    "# syntax=docker/dockerfile:1",
    "ARG VARIANT=bookworm",
    "ARG REG",
    // biome-ignore lint/suspicious/noTemplateCurlyInString: Dockerfile ARG syntax, not a template
    "FROM --platform=linux/amd64 ${REG:-mcr.microsoft.com}/devcontainers/base:${VARIANT} AS base",
    "RUN echo hi \\",
    "  && echo there",
    "FROM base",
    "FROM scratch",
    "from docker.io/library/alpine:3 as other",
  ].join("\n");
  const scan = scanDockerfile(text);
  assert.deepEqual(
    scan.froms.map((f) => [f.image, f.local]),
    [
      ["mcr.microsoft.com/devcontainers/base:bookworm", false],
      ["base", true],
      ["scratch", true],
      ["docker.io/library/alpine:3", false],
    ],
  );
  const withArgs = scanDockerfile(text, { VARIANT: "trixie", REG: "127.0.0.1:5000" });
  assert.equal(withArgs.froms[0]?.image, "127.0.0.1:5000/devcontainers/base:trixie");
  const out = rewriteFrom(scan, (i) => `oci:/x/${i.length}:base`);
  assert.match(out, /^FROM --platform=linux\/amd64 oci:\/x\/45:base AS base$/m);
  assert.match(out, /^FROM base$/m);
  assert.match(out, /^from oci:\/x\/26:base as other$/m);
  assert.match(out, /^RUN echo hi \\$/m, "other lines are kept as written");
});

test("substitution forms", () => {
  const v = { A: "x", E: "" };
  // biome-ignore lint/suspicious/noTemplateCurlyInString: Dockerfile ARG syntax, not a template
  assert.equal(substituteArgs("$A-${A}-${B:-d}-${A:+alt}-${E:-e}-${B}", v), "x-x-d-alt-e-");
});

for (const [name, text, pattern] of [
  ["no FROM", "RUN true\n", /no FROM line/],
  // biome-ignore lint/suspicious/noTemplateCurlyInString: Dockerfile ARG syntax, not a template
  ["empty image", "ARG X\nFROM ${X}\n", /empty after ARG substitution/],
  ["ADD of a URL", "FROM a\nADD https://example.com/f /f\n", /ADD of a URL is refused/],
  ["ADD of a git repository", "FROM a\nADD --keep-git-dir git@github.com:o/r.git /r\n", /ADD of a URL/],
  ["ADD in exec form", 'FROM a\nADD ["http://10.0.0.1/x", "/x"]\n', /ADD of a URL/],
  ["FROM over two lines", "FROM \\\n  debian\n", /one line/],
] as const) {
  test(`refused: ${name}`, () => {
    assert.throws(
      () => scanDockerfile(text),
      (err: unknown) => isWarrenError(err) && err.code === "INVALID_ARGUMENT" && pattern.test(err.message),
    );
  });
}

test("ADD of local files is fine", () => {
  assert.doesNotThrow(() => scanDockerfile("FROM a\nADD files.tar.gz /opt/\nADD --chown=1:1 a b /c/\n"));
});

const plan: BudPlan = {
  storageRoot: "/r/builds/1/storage",
  runRoot: "/r/builds/1/run",
  dockerfile: "/r/builds/1/Dockerfile",
  contextDir: "/r/ctx",
  uidStart: 1_073_872_896,
  netns: "/run/warren/netns/abc",
  resolverIp: "10.1.2.1",
  memoryBytes: 512 * 1024 ** 2,
  cpus: 1.5,
  args: { GREETING: "hi" },
  target: "dev",
  labels: { "devcontainer.metadata": "[]" },
  tag: "t1",
  emptySys: "/r/builds/1/sys",
};

test("buildah runs RUN steps under oci isolation with the environment's ids, netns and limits", () => {
  const argv = buildahBudArgs(plan);
  assert.ok(argv.includes("--isolation=oci") && argv.includes("--runtime=runc"));
  assert.ok(!argv.some((a) => /chroot/.test(a)), "chroot isolation never appears");
  assert.ok(argv.includes("--userns-uid-map=0:1073872896:65536"));
  assert.ok(argv.includes("--userns-gid-map=0:1073872896:65536"));
  assert.ok(argv.includes("--network=ns:/run/warren/netns/abc"));
  assert.ok(argv.includes("--dns=10.1.2.1"));
  assert.ok(argv.includes("--pull=never"), "buildah never fetches a base itself");
  assert.ok(argv.includes(`--memory=${512 * 1024 ** 2}b`));
  assert.ok(argv.includes("--cpu-quota=150000"));
  assert.ok(argv.includes("--build-arg=GREETING=hi") && argv.includes("--target=dev"));
  assert.equal(argv.at(-1), "/r/ctx");
  assert.deepEqual(argv.slice(0, 2), ["--root", "/r/builds/1/storage"]);
});

test("cache key: same inputs same key, each input changes it", () => {
  const base = {
    dockerfileText: "FROM a\n",
    contextDigest: "sha256:1",
    args: { A: "1", B: "2" },
    bases: [["a", "sha256:b"]] as [string, string][],
    labels: {},
  };
  const k = dockerfileKey(base);
  assert.equal(dockerfileKey({ ...base, args: { B: "2", A: "1" } }), k, "argument order does not matter");
  for (const changed of [
    { dockerfileText: "FROM a\nRUN x\n" },
    { contextDigest: "sha256:2" },
    { args: { A: "1" } },
    { target: "dev" },
    { bases: [["a", "sha256:c"]] as [string, string][] },
    { labels: { l: "v" } },
  ]) {
    assert.notEqual(dockerfileKey({ ...base, ...changed }), k, JSON.stringify(changed));
  }
  assert.match(buildRef(k), /^warren-build\/[0-9a-f]{32}$/);
});
