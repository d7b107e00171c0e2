// `up --user NAME` at the control plane: a bad name is refused before a row or a runner call
// exists; a good one is stored, shown in the spec, carried to the runner (only when it is not
// root, so root environments' runner specs are unchanged), and part of the spec an idempotent
// create compares.
import assert from "node:assert/strict";
import { afterEach, test } from "node:test";
import { checkEnvUser, isWarrenError, type RunnerEnvSpec } from "@warren/protocol";
import { countRows, type Harness, harness, ROOT } from "@warren/testing/server-harness";

let h: Harness;
afterEach(async () => h?.close());

test("checkEnvUser accepts the portable user names and refuses the rest", () => {
  for (const ok of ["dev", "vscode", "node", "_apt", "a", "build-bot", "u1", "x".repeat(32)]) {
    assert.equal(checkEnvUser(ok), ok);
  }
  for (const bad of [
    "",
    "Dev",
    "1000",
    "9dev",
    "-dev",
    "dev user",
    "dev:x",
    "../etc",
    "x".repeat(33),
    "dév",
  ]) {
    assert.throws(
      () => checkEnvUser(bad),
      (e: unknown) => isWarrenError(e, "INVALID_ARGUMENT") && /a-z, 0-9, _ and -/.test(e.message),
      bad,
    );
  }
});

for (const bad of ["Root", "1000", "dev;rm", "a\nb", "x".repeat(40)]) {
  test(`create refuses user ${JSON.stringify(bad.slice(0, 12))} and leaves nothing behind`, async () => {
    h = await harness();
    await assert.rejects(h.envs.create(ROOT, { name: "dev", user: bad }), (e: unknown) => {
      assert.ok(isWarrenError(e, "INVALID_ARGUMENT"), String(e));
      assert.match(e.message, /invalid user .*e\.g\. dev, vscode, node/);
      return true;
    });
    assert.equal(await countRows(h, "environments"), 0);
    assert.equal(h.runner.callsOf("ensureRunning").length, 0);
  });
}

test("the user is stored, shown, and sent to the runner only when it is not root", async () => {
  h = await harness();
  const dev = await h.envs.create(ROOT, { name: "dev", user: "dev" });
  assert.equal(dev.env.spec.user, "dev");
  assert.equal((await h.envs.get(ROOT, "dev")).spec.user, "dev");
  const plain = await h.envs.create(ROOT, { name: "plain" });
  assert.equal(plain.env.spec.user, "root", "the default, as before users existed");

  const sent = h.runner.callsOf("ensureRunning").map((args) => args[0] as RunnerEnvSpec);
  assert.equal(sent.find((s) => s.name === "dev")?.user, "dev");
  const rootSpec = sent.find((s) => s.name === "plain");
  assert.ok(rootSpec);
  assert.equal("user" in rootSpec, false);
});

test("the same name with another user is a conflict that names the field", async () => {
  h = await harness();
  await h.envs.create(ROOT, { name: "dev", user: "dev" });
  assert.equal((await h.envs.create(ROOT, { name: "dev", user: "dev" })).created, false);
  await assert.rejects(h.envs.create(ROOT, { name: "dev" }), (e: unknown) => {
    assert.ok(isWarrenError(e, "NAME_CONFLICT"), String(e));
    assert.match(e.message, /user dev \(existing\) vs root \(requested\)/);
    return true;
  });
});
