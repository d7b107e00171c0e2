// The RunnerBuild contract, one suite for every implementation (the Engine with buildah, the
// Engine behind the runner link, the fake): requests refused before anything runs (paths that
// leave the repository, nothing to build), a running environment required, an unknown base or
// image named as such, and the content-keyed cache: a build lands in the store with its label,
// the same build again is `cached` with the same image. (That other inputs build anew is the
// cache key's own test, build-dockerfile.test.ts, and build-buildah.host.test.ts.)
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type {
  BuildImageRequest,
  ProgressEvent,
  ProgressFn,
  RunnerBuild,
  RunnerEnvSpec,
  RunnerImages,
} from "@warren/protocol";
import { type RunnerSubject, rejectsWithCode, unknownId } from "./subject.ts";

export interface BuildSubject extends RunnerSubject<RunnerBuild & RunnerImages> {
  /** The image envSpec() uses; the store holds it (the Dockerfile builds FROM it). */
  image: string;
  /** Writes files inside a running environment (absolute paths); a fake may ignore them. */
  writeFiles(id: string, files: Record<string, string>): Promise<void>;
}

const quiet: ProgressFn = () => {};
const REPO = "/workspaces/conformance";
const DIGEST = `sha256:${"a".repeat(64)}`;

function dockerfileBuild(envId: string, over: Partial<NonNullable<BuildImageRequest["dockerfile"]>> = {}) {
  return {
    envId,
    repoRoot: REPO,
    dockerfile: { dockerfile: `${REPO}/Dockerfile`, context: REPO, ...over },
    metadataLabel: '[{"remoteUser":"root"}]',
  } satisfies BuildImageRequest;
}

export function buildConformance(name: string, makeSubject: () => Promise<BuildSubject>): void {
  describe(`RunnerBuild conformance: ${name}`, () => {
    let s: BuildSubject;
    let env: RunnerEnvSpec;
    before(async () => {
      s = await makeSubject();
      env = s.envSpec("build-env");
      await s.api.ensureRunning(env);
      await s.writeFiles(env.id, {
        [`${REPO}/Dockerfile`]: `FROM ${s.image}\nARG WORD=one\nRUN echo "$WORD" > /word\n`,
        [`${REPO}/file.txt`]: "context\n",
      });
    });
    after(async () => {
      await s?.cleanup();
    });

    it("a build and a local Feature fetch need a running environment", async () => {
      await rejectsWithCode(s.api.buildImage(dockerfileBuild(unknownId()), quiet), "ENV_NOT_RUNNING");
      await rejectsWithCode(
        s.api.fetchFeature(
          { envId: unknownId(), source: "./features/x", configDir: `${REPO}/.devcontainer`, repoRoot: REPO },
          quiet,
        ),
        "ENV_NOT_RUNNING",
      );
    });

    it("a context or Dockerfile outside the repository is refused before anything runs", async () => {
      const ctx = await rejectsWithCode(
        s.api.buildImage(dockerfileBuild(env.id, { context: `${REPO}/../elsewhere` }), quiet),
        "INVALID_ARGUMENT",
      );
      assert.match(ctx.message, /build context \.\.\/elsewhere escapes the repository/);
      const df = await rejectsWithCode(
        s.api.buildImage(dockerfileBuild(env.id, { dockerfile: "/etc/Dockerfile" }), quiet),
        "INVALID_ARGUMENT",
      );
      assert.match(df.message, /Dockerfile .* escapes the repository/);
      await rejectsWithCode(s.api.buildImage({ envId: env.id, repoRoot: REPO }, quiet), "INVALID_ARGUMENT");
    });

    it("Features on an image the store lacks: IMAGE_NOT_FOUND", async () => {
      const req: BuildImageRequest = {
        envId: env.id,
        repoRoot: REPO,
        baseImage: "conformance/never-imported:none",
        features: [{ source: "./f", id: "f", digest: DIGEST, options: {} }],
      };
      await rejectsWithCode(s.api.buildImage(req, quiet), "IMAGE_NOT_FOUND");
    });

    it("imageLabels: a record for a held image, IMAGE_NOT_FOUND for another", async () => {
      const labels = await s.api.imageLabels(s.image);
      assert.equal(typeof labels, "object");
      for (const v of Object.values(labels)) assert.equal(typeof v, "string");
      await rejectsWithCode(s.api.imageLabels("conformance/never-imported:none"), "IMAGE_NOT_FOUND");
    });

    it("a build lands in the store with its label; the same build is cached", async () => {
      const events: ProgressEvent[] = [];
      const first = await s.api.buildImage(dockerfileBuild(env.id), (e) => events.push(e));
      assert.equal(first.cached, false);
      assert.match(first.ref, /^warren-build\//);
      assert.match(first.digest, /^sha256:/);
      assert.ok(
        events.some((e) => e.phase === "build"),
        "a build reports progress",
      );
      assert.equal(await s.api.hasImage(first.ref), true);
      assert.ok((await s.api.listImages()).some((i) => i.ref === first.ref));
      assert.equal((await s.api.imageLabels(first.ref))["devcontainer.metadata"], '[{"remoteUser":"root"}]');

      const again = await s.api.buildImage(dockerfileBuild(env.id), quiet);
      assert.equal(again.cached, true);
      assert.equal(again.ref, first.ref);
      assert.equal(again.digest, first.digest);
    });
  });
}
