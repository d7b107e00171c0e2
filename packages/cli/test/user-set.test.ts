// `warren user set`'s request: flags given are sent, an empty one clears its field, none is an error.
import assert from "node:assert/strict";
import { test } from "node:test";
import { formatUserGit, userSetRequest } from "../src/commands/user-set.ts";

test("user set sends the flags given; an empty value clears; nothing given is refused", () => {
  assert.deepEqual(userSetRequest({ gitName: "Ada Lovelace", gitEmail: "ada@example.com" }), {
    gitName: "Ada Lovelace",
    gitEmail: "ada@example.com",
  });
  assert.deepEqual(userSetRequest({ dotfiles: "" }), { dotfiles: null });
  assert.throws(() => userSetRequest({ json: true }), /nothing to set: give --git-name/);
  assert.equal(
    formatUserGit({ gitName: "Ada" }),
    "git name  Ada\ngit email (not set)\ndotfiles  (not set)\n",
  );
});
