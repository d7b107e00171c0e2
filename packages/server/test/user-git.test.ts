// `warren user set` over the API (in-process inject, real SQLite store): set, read back, change
// one field, clear one, the refusals with what is wrong and how to fix it, and that each user
// reads only their own while getUserGit (the setup controller's read) finds it by user id.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type Harness, harness } from "@warren/testing/server-harness";
import type { FastifyInstance } from "fastify";
import { systemClock } from "../src/clock.ts";
import { build } from "../src/http/build.ts";
import { system } from "../src/services/actor.ts";
import { createImageService } from "../src/services/images.ts";
import { createUserGitService, getUserGit } from "../src/services/user-git.ts";
import { BOOTSTRAP_OWNER_ID } from "../src/store/migrations/005_identity.ts";

let h: Harness;
let app: FastifyInstance;

before(async () => {
  h = await harness();
  app = build({
    envs: h.envs,
    classes: h.classes,
    images: createImageService({ runner: h.runner, db: h.store.db, clock: systemClock }),
    runner: h.runner,
    logger: false,
    db: h.store.db,
  });
});
after(async () => {
  await app?.close();
  await h?.close();
});

const put = (body: unknown) =>
  app.inject({ method: "PUT", url: "/api/v1/user/git", payload: body as object });
const get = () => app.inject({ method: "GET", url: "/api/v1/user/git" });

describe("user git identity", () => {
  it("is empty until set, then holds what was set", async () => {
    assert.deepEqual((await get()).json(), {});
    const r = await put({
      gitName: "  Ada Lovelace ",
      gitEmail: "ada@example.com",
      dotfiles: "https://github.com/ada/dotfiles",
    });
    assert.equal(r.statusCode, 200, r.body);
    const { updatedAt, ...rest } = r.json();
    assert.deepEqual(rest, {
      gitName: "Ada Lovelace",
      gitEmail: "ada@example.com",
      dotfiles: "https://github.com/ada/dotfiles",
    });
    assert.match(updatedAt, /^\d{4}-\d\d-\d\dT/);
    assert.deepEqual((await get()).json(), r.json());
  });

  it("changes only the fields given and clears those set to null", async () => {
    await put({ gitEmail: "ada@analytical.engine" });
    let got = (await get()).json();
    assert.equal(got.gitName, "Ada Lovelace");
    assert.equal(got.gitEmail, "ada@analytical.engine");
    assert.equal((await put({ dotfiles: null })).statusCode, 200);
    got = (await get()).json();
    assert.equal(got.dotfiles, undefined);
    assert.equal(got.gitName, "Ada Lovelace");
  });

  it("is what the setup controller reads for the owner, by user id", async () => {
    const u = await getUserGit(h.store.db, BOOTSTRAP_OWNER_ID);
    assert.equal(u.gitEmail, "ada@analytical.engine");
    assert.deepEqual(await getUserGit(h.store.db, "usr_nobody"), {});
    const svc = createUserGitService({ db: h.store.db, clock: systemClock });
    await assert.rejects(svc.get(system("controller")), { code: "FORBIDDEN" });
  });

  const refusals: [string, Record<string, unknown>, RegExp][] = [
    ["a name with a newline", { gitName: "Ada\nEvil" }, /gitName: a git name is 1-200 printable/],
    ["a name with an address in it", { gitName: "Ada <a@b>" }, /without '<' or '>'/],
    ["two addresses", { gitEmail: "a@b c@d" }, /gitEmail: a git email is one address/],
    ["no @", { gitEmail: "ada" }, /gitEmail/],
    ["a local path", { dotfiles: "/home/ada/dotfiles" }, /dotfiles: .*is not a remote git URL/],
    ["file://", { dotfiles: "file:///etc" }, /scheme "file"/],
    ["a token in the URL", { dotfiles: "https://ada:ghp_secret@github.com/ada/dotfiles" }, /git-credentials/],
    ["an option-like URL", { dotfiles: "--upload-pack=touch /x" }, /dotfiles: a git URL is/],
    ["git's command transport", { dotfiles: "ext::sh -c touch% /tmp/pwned" }, /dotfiles/],
    ["an unknown field", { gitname: "x" }, /gitname|additional/],
  ];
  for (const [what, body, msg] of refusals) {
    it(`refuses ${what}, saying what is wrong`, async () => {
      const before = (await get()).json();
      const r = await put(body);
      assert.equal(r.statusCode, 400, r.body);
      assert.match(r.json().message, msg);
      assert.doesNotMatch(r.body, /ghp_secret/, "a token is never repeated back");
      assert.deepEqual((await get()).json(), before, "nothing was written");
    });
  }
});
