// An environment's configured user end to end: `up --user dev` in the Debian base image (which
// has no dev: the image's useradd makes it, inside the sandbox) lands exec as dev, who owns the
// workspace folder and can read a file secret and the variable secrets (still 0400, now dev's);
// `-u 0` still reaches root; a stop and start sets it up again (and follows no link root left in
// place of the workspace folder); an environment without --user
// stays root. And `hostname -f` names the environment under the internal zone.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdirSync, statSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { type Harness, makeHarness } from "@warren/testing/e2e-harness";

const FILE_VALUE = `user-file-${randomBytes(6).toString("hex")}`;
const ENV_VALUE = `user-env-${randomBytes(6).toString("hex")}`;

/** Runs cmd through the API (the CLI's `-u` is another change's), returning status and stdout. */
function apiExec(h: Harness, name: string, cmd: string[], user?: string): Promise<[number, string]> {
  let out = "";
  return new Promise((resolve, reject) => {
    h.client
      .exec(
        name,
        { cmd, tty: false, ...(user !== undefined ? { user } : {}) },
        {
          stdout: (d) => {
            out += Buffer.from(d).toString();
          },
          stderr: () => undefined,
          exit: (code) => resolve([code, out]),
          error: reject,
        },
      )
      .then((s) => s.endStdin(), reject);
  });
}

describe("environment user (e2e)", { timeout: 180_000 }, () => {
  let h: Harness;
  const ok = (args: string[]) => {
    const r = h.cli(args);
    assert.equal(r.status, 0, `${args.join(" ")}: ${r.stderr}`);
    return r.stdout;
  };
  before(async () => {
    h = await makeHarness("user");
    await h.startDaemon();
    assert.equal(
      h.cli(["secret", "set", "FILE_U", "--file", "--value-stdin"], { input: FILE_VALUE }).status,
      0,
    );
    assert.equal(h.cli(["secret", "set", "ENV_U", "--env", "--value-stdin"], { input: ENV_VALUE }).status, 0);
  });
  after(async () => {
    await h?.teardown();
  });

  // What dev can do, one fact a line, in one exec (each CLI call costs a Node start-up).
  const DEV_FACTS =
    'id -un; id -u; echo "$HOME"; pwd; touch f && stat -c "%U %a" f /workspaces/u /run/secrets/FILE_U; cat /run/secrets/FILE_U; echo; printenv ENV_U';
  const devFacts = [
    "dev",
    "1000",
    "/home/dev",
    "/workspaces/u",
    "dev 644",
    "dev 755",
    "dev 400",
    FILE_VALUE,
    ENV_VALUE,
    "",
  ];

  it("up --user dev: exec lands as dev, who owns the workspace and reads the secrets", async () => {
    ok(["up", "--name", "u", "--user", "dev", "--disk", "1g", "--detach"]);
    assert.equal(ok(["exec", "u", "--", "id", "-un"]), "dev\n");
    assert.deepEqual(ok(["exec", "u", "--", "sh", "-c", DEV_FACTS]).split("\n"), devFacts);
    assert.equal((await h.client.getEnvironment("u")).spec.user, "dev");
  });

  it("an explicit user still wins, and a stop and start sets dev up again, following no link", async () => {
    assert.deepEqual(await apiExec(h, "u", ["id", "-u"], "0"), [0, "0\n"]);
    const [status] = await apiExec(h, "u", ["sh", "-c", "echo x > /etc/by-dev"]);
    assert.notEqual(status, 0, "dev is not root");
    // Root inside swaps the workspace folder for a link to a host path: the next start must not
    // follow it (the host's directory keeps its owner) and gives dev a real folder again.
    const bait = path.join(h.root, "bait");
    mkdirSync(bait);
    const [swapped] = await apiExec(
      h,
      "u",
      ["sh", "-c", `rm -rf /workspaces/u && ln -s ${bait} /workspaces/u`],
      "0",
    );
    assert.equal(swapped, 0);
    await h.client.stopEnvironment("u", 0);
    await h.client.startEnvironment("u");
    assert.equal(statSync(bait).uid, 0, "the host directory behind the link kept its owner");
    assert.deepEqual(await apiExec(h, "u", ["sh", "-c", DEV_FACTS]), [0, devFacts.join("\n")]);
  });

  it("without --user the environment stays root, and hostname -f gives NAME.ZONE", async () => {
    ok(["up", "--name", "r", "--disk", "1g", "--detach"]);
    const facts = ok([
      "exec",
      "r",
      "--",
      "sh",
      "-c",
      'id -un; stat -c "%U %a" /run/secrets/FILE_U; hostname; hostname -f',
    ]);
    assert.equal(facts, "root\nroot 400\nr\nr.warren.internal\n");
    assert.equal((await h.client.getEnvironment("r")).spec.user, "root");
  });
});
