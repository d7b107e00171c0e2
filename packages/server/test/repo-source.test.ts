// `warren up --repo` at the control plane: the source a create names is checked field by field
// (hostile values refused with the field and the fix), and an upload is its uploader's alone,
// bounded in size, with nothing left behind when refused.
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { Readable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { isWarrenError, type RepoSource } from "@warren/protocol";
import { type Harness, harness } from "@warren/testing/server-harness";
import { systemClock } from "../src/clock.ts";
import { checkRepoSource, repoCreate, repoDir } from "../src/services/repo-source.ts";
import { createUploadService, requireUpload, uploadsDir } from "../src/services/uploads.ts";

const refused = (src: RepoSource, field: RegExp) => {
  assert.throws(
    () => checkRepoSource(src),
    (e: unknown) => isWarrenError(e, "INVALID_ARGUMENT") && field.test(e.message),
    JSON.stringify(src),
  );
};

describe("repository sources", () => {
  it("takes git URLs and names the folder after the repository", () => {
    for (const [url, dir] of [
      ["https://github.com/acme/shop.git", "shop"],
      ["git@github.com:acme/api.git", "api"],
      ["ssh://git@host:2222/team/tool", "tool"],
      ["git://10.0.0.2/x.y.git", "x.y"],
    ] as const) {
      assert.equal(repoDir(checkRepoSource({ url })), dir, url);
    }
    assert.equal(repoDir({ uploadId: "up_x", localWorkspaceFolder: "/home/ada/My Project" }), "My-Project");
    assert.equal(repoDir({ uploadId: "up_x", localWorkspaceFolder: "/" }), "workspace");
  });

  it("refuses hostile and malformed sources, naming the field", () => {
    refused({}, /either a git URL or an uploaded directory/);
    refused({ url: "https://h/r", uploadId: "up_0123456789abcdef01" }, /not both/);
    refused({ url: "file:///etc" }, /scheme/);
    refused({ url: "https://user:token@github.com/o/r.git" }, /credentials|project/i);
    refused({ url: "/etc/passwd" }, /project/);
    refused({ uploadId: "../../etc/passwd" }, /uploadId/);
    refused({ url: "https://h/r", branch: "--upload-pack=evil" }, /branch/);
    refused({ url: "https://h/r", branch: "a..b" }, /branch/);
    refused({ url: "https://h/r", devcontainerPath: "../../outside.json" }, /devcontainer/);
    refused({ url: "https://h/r", devcontainerPath: "/abs/devcontainer.json" }, /devcontainer/);
    refused({ url: "https://h/r", knownHosts: ["host ssh-ed25519 AAAA\nsecond line"] }, /knownHosts/);
    refused({ url: "https://h/r", localEnv: { "BAD NAME": "x" } }, /localEnv/);
    refused({ url: "https://h/r", localEnv: { OK: "a\0b" } }, /localEnv/);
  });

  it("starts from the base image, sets the project and keeps a chosen image for later", () => {
    const r = repoCreate({ repo: { url: "git@github.com:acme/api.git" }, image: "registry.local/x:1" });
    assert.equal(r?.req.image, "warren/debian:bookworm");
    assert.equal(r?.req.project, "git@github.com:acme/api.git");
    assert.equal(r?.setup.phase, "clone");
    assert.equal(r?.setup.image, "registry.local/x:1");
    assert.equal(r?.setup.workspaceFolder, "/workspaces/api");
    assert.equal(repoCreate({ name: "x" }), undefined);
  });
});

describe("uploads", () => {
  let h: Harness;
  before(async () => {
    h = await harness();
  });
  after(async () => {
    await h.close();
  });
  const alice = {
    kind: "user" as const,
    userId: "u1",
    orgId: "o1",
    role: "member" as const,
    via: "token" as const,
  };

  it("stores a tar for its uploader only", async () => {
    const svc = createUploadService({ db: h.store.db, clock: systemClock, root: h.dir });
    const up = await svc.put(alice, Readable.from([Buffer.from("tar bytes")]), 9);
    assert.equal(up.sizeBytes, 9);
    const now = new Date().toISOString();
    await requireUpload(h.store.db, up.id, { org_id: "o1", owner_id: "u1" }, now);
    for (const other of [
      { org_id: "o2", owner_id: "u1" },
      { org_id: "o1", owner_id: "u2" },
    ]) {
      await assert.rejects(requireUpload(h.store.db, up.id, other, now), /does not exist or has expired/);
    }
    await assert.rejects(
      requireUpload(h.store.db, up.id, { org_id: "o1", owner_id: "u1" }, "9999-01-01"),
      /expired/,
    );
    await svc.remove(up.id);
  });

  it("refuses an oversized tar, declared or streamed, leaving no file or row", async () => {
    const svc = createUploadService({ db: h.store.db, clock: systemClock, root: h.dir, maxBytes: 1024 });
    await assert.rejects(svc.put(alice, Readable.from([Buffer.alloc(10)]), 4096), /larger than/);
    const chunks = Array.from({ length: 8 }, () => Buffer.alloc(512));
    await assert.rejects(svc.put(alice, Readable.from(chunks), undefined), /larger than/);
    assert.deepEqual(readdirSync(uploadsDir(h.dir)), []);
    const rows = await h.store.db.selectFrom("uploads").selectAll().execute();
    assert.equal(rows.length, 0);
  });

  it("refuses a runner or the system as uploader", async () => {
    const svc = createUploadService({ db: h.store.db, clock: systemClock, root: h.dir });
    await assert.rejects(
      svc.put({ kind: "system", job: "x" }, Readable.from([Buffer.from("x")]), 1),
      /uploading a directory/,
    );
  });
});
