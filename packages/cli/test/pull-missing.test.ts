import assert from "node:assert/strict";
import { test } from "node:test";
import type { ApiClient, ImageInfo } from "@warren/protocol";
import { pullIfMissing } from "../src/pull-missing.ts";

function fakeClient(refs: string[]) {
  const pulls: string[] = [];
  const info = (ref: string): ImageInfo => ({ ref, digest: "d", layers: [], sizeBytes: 0, createdAt: "t" });
  const client = {
    listImages: async () => refs.map(info),
    pullImage: async (ref: string) => {
      pulls.push(ref);
      return info(`${ref}:latest`);
    },
  } as unknown as ApiClient;
  return { client, pulls };
}

test("up pulls a missing registry image and uses its canonical ref", async () => {
  const { client, pulls } = fakeClient([]);
  assert.equal(await pullIfMissing(client, "127.0.0.1:5000/tools"), "127.0.0.1:5000/tools:latest");
  assert.deepEqual(pulls, ["127.0.0.1:5000/tools"]);
});

test("up does not pull present images or local names", async () => {
  const { client, pulls } = fakeClient(["127.0.0.1:5000/tools:latest", "reg.example/x:1"]);
  assert.equal(await pullIfMissing(client, "127.0.0.1:5000/tools"), "127.0.0.1:5000/tools:latest");
  assert.equal(await pullIfMissing(client, "reg.example/x:1"), "reg.example/x:1");
  assert.equal(await pullIfMissing(client, "myorg/tools:1.0"), "myorg/tools:1.0");
  assert.deepEqual(pulls, []);
});
