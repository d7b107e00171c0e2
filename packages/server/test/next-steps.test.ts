// Errors whose next step fits the mistake: the same name with other cpus or memory points at
// `warren set`; `image rm` of an image there is not points at `image ls`; the base image's
// repository without its tag points at :bookworm.
import assert from "node:assert/strict";
import { afterEach, test } from "node:test";
import { DEFAULT_IMAGE, isWarrenError, WarrenError } from "@warren/protocol";
import { FakeRunner } from "@warren/testing/fake-runner";
import { type Harness, harness, ROOT } from "@warren/testing/server-harness";
import { createImageService } from "../src/services/images.ts";

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

function failsWith(code: string, message: RegExp, not?: RegExp) {
  return (err: unknown) => {
    assert.ok(isWarrenError(err), `expected a WarrenError, got ${String(err)}`);
    assert.equal(err.code, code);
    assert.match(err.message, message);
    if (not) assert.doesNotMatch(err.message, not);
    return true;
  };
}

test("the same name with other cpus or memory suggests `warren set` with those values", async () => {
  h = await harness();
  await h.envs.create(ROOT, { name: "dev" });
  await assert.rejects(
    h.envs.create(ROOT, { name: "dev", cpus: 1, memory: "1g" }),
    failsWith(
      "NAME_CONFLICT",
      /cpus 2 \(existing\) vs 1 \(requested\).*`warren set dev --cpus 1 --memory 1g`/,
    ),
  );
  // What `set` cannot change keeps the old advice.
  await assert.rejects(
    h.envs.create(ROOT, { name: "dev", cpus: 1, disk: "20g" }),
    failsWith("NAME_CONFLICT", /another --name, or remove it first with `warren rm dev`/, /warren set/),
  );
});

/** Removes like the runner's image store: an image it does not have is IMAGE_NOT_FOUND. */
class StoreLikeRunner extends FakeRunner {
  override async removeImage(ref: string): Promise<string[]> {
    if (!this.images.has(ref)) {
      throw new WarrenError(
        "IMAGE_NOT_FOUND",
        `image ${ref} is not in the image store: run \`warren image import PATH\``,
      );
    }
    return super.removeImage(ref);
  }
}

test("`image rm` of an image that is not there suggests `image ls`, scoped or not", async () => {
  h = await harness({ runner: new StoreLikeRunner() });
  for (const images of [
    createImageService({ runner: h.runner }),
    createImageService({ runner: h.runner, db: h.store.db }),
  ]) {
    await assert.rejects(
      images.remove(ROOT, "nosuch:1"),
      failsWith("IMAGE_NOT_FOUND", /no image "nosuch:1" to remove; `warren image ls` lists/, /image import/),
    );
  }
});

test("the base image's repository without its tag hints at :bookworm", async () => {
  h = await harness();
  h.runner.images.delete("warren/debian");
  for (const image of ["warren/debian", "warren/debian:latest"]) {
    await assert.rejects(
      h.envs.create(ROOT, { name: "dev", image }),
      failsWith("IMAGE_NOT_FOUND", new RegExp(`did you mean --image ${DEFAULT_IMAGE}\\?`)),
    );
  }
  await assert.rejects(
    h.envs.create(ROOT, { name: "dev", image: "acme/tools:1" }),
    failsWith("IMAGE_NOT_FOUND", /warren image import/, /did you mean/),
  );
});
