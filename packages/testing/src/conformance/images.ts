// The RunnerImages contract, one suite for every implementation: what the store lists and holds,
// import then remove, the refusal to remove an image an environment uses or one that is not there,
// prune keeping what is in use or named, and a malformed pull refused before any network.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { ImageInfo, ProgressFn, RunnerEnvSpec, RunnerImages } from "@warren/protocol";
import { type RunnerSubject, rejectsWithCode } from "./subject.ts";

export interface ImagesSubject extends RunnerSubject<RunnerImages> {
  /** The image envSpec() uses; the store holds it. */
  image: string;
  /** Something importImage takes (an OCI layout on the runner's host), under a new ref each call. */
  importable(): Promise<{ path: string; ref: string }>;
}

const quiet: ProgressFn = () => {};

function assertImageInfo(info: ImageInfo | undefined, ref: string): void {
  assert.ok(info, `the store lists ${ref}`);
  assert.equal(info.ref, ref);
  assert.match(info.digest, /^sha256:/);
  assert.ok(Array.isArray(info.layers));
  assert.ok(Number.isFinite(info.sizeBytes) && info.sizeBytes >= 0);
  assert.ok(!Number.isNaN(Date.parse(info.createdAt)), `createdAt is a date: ${info.createdAt}`);
}

export function imagesConformance(name: string, makeSubject: () => Promise<ImagesSubject>): void {
  describe(`RunnerImages conformance: ${name}`, () => {
    let s: ImagesSubject;
    /** One environment using the subject's image, for the in-use cases (starts are slow). */
    let user: RunnerEnvSpec;
    before(async () => {
      s = await makeSubject();
      user = s.envSpec("images-user");
    });
    after(async () => {
      await s?.cleanup();
    });

    it("hasImage and listImages agree on what the store holds", async () => {
      assert.equal(await s.api.hasImage(s.image), true);
      assert.equal(await s.api.hasImage("conformance/never-imported:none"), false);
      const list = await s.api.listImages();
      assertImageInfo(
        list.find((i) => i.ref === s.image),
        s.image,
      );
      assert.equal(
        list.find((i) => i.ref === "conformance/never-imported:none"),
        undefined,
      );
    });

    it("an imported image is held and listed; removed, it is gone", async () => {
      const { path, ref } = await s.importable();
      const info = await s.api.importImage(path, ref, quiet);
      assertImageInfo(info, ref);
      assert.equal(await s.api.hasImage(ref), true);
      assertImageInfo(
        (await s.api.listImages()).find((i) => i.ref === ref),
        ref,
      );
      const removed = await s.api.removeImage(ref);
      assert.ok(Array.isArray(removed) && removed.every((r) => typeof r === "string"));
      assert.equal(await s.api.hasImage(ref), false);
      assert.equal(
        (await s.api.listImages()).find((i) => i.ref === ref),
        undefined,
      );
    });

    it("removeImage refuses an image a running environment uses (IMAGE_IN_USE) and keeps it", async () => {
      await s.api.ensureRunning(user);
      const err = await rejectsWithCode(s.api.removeImage(user.image), "IMAGE_IN_USE");
      assert.match(err.message, new RegExp(user.image.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")));
      assert.equal(await s.api.hasImage(user.image), true);
    });

    it("removeImage of an image the store does not hold is IMAGE_NOT_FOUND", async () => {
      await rejectsWithCode(s.api.removeImage("conformance/never-imported:none"), "IMAGE_NOT_FOUND");
    });

    it("pruneImages keeps the images environments use and those named in keep", async () => {
      await s.api.ensureRunning(user);
      const { path, ref } = await s.importable();
      await s.api.importImage(path, ref, quiet);
      const res = await s.api.pruneImages({ keep: [ref] });
      assert.ok(Array.isArray(res.removed));
      assert.ok(Number.isFinite(res.freedBytes) && res.freedBytes >= 0);
      assert.ok(!res.removed.includes(ref) && !res.removed.includes(user.image), JSON.stringify(res));
      assert.equal(await s.api.hasImage(ref), true);
      assert.equal(await s.api.hasImage(user.image), true);
      await s.api.removeImage(ref);
    });

    it("a stopped environment still holds its image: removeImage is IMAGE_IN_USE", async () => {
      await s.api.ensureStopped(user, 0);
      await rejectsWithCode(s.api.removeImage(user.image), "IMAGE_IN_USE");
      await s.api.remove(user.id);
    });

    it("pullImage of a malformed reference is INVALID_ARGUMENT", async () => {
      await rejectsWithCode(s.api.pullImage("Not A Reference!", quiet), "INVALID_ARGUMENT");
    });
  });
}
