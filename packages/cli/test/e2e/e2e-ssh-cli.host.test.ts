// `warren ssh` and `warren ssh-config` end to end: a real daemon with its SSH gateway on a free
// loopback port, a key registered with `warren ssh-key add`, and the real OpenSSH client. The
// remote command's status passes through (0 for `id -u` as root, 7 for `exit 7`), the gateway's
// refusal of an unregistered key is OpenSSH's 255 and exits 125, and the block `ssh-config
// --write` installs makes `ssh -F FILE ENV.warren` work with the host key pinned strictly.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { type Harness, makeHarness } from "@warren/testing/e2e-harness";

describe("warren ssh and ssh-config (e2e)", { timeout: 120_000 }, () => {
  let h: Harness;
  let home: string;
  let key: string;
  let env: NodeJS.ProcessEnv;
  const cli = (args: string[]) => h.cli(args, { env });

  before(async () => {
    h = await makeHarness("sshcli");
    await h.startDaemon();
    home = path.join(h.root, "home");
    mkdirSync(path.join(home, ".ssh"), { recursive: true, mode: 0o700 });
    key = path.join(home, ".ssh", "id_ed25519");
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "e2e", "-f", key]);
    // OpenSSH finds ~/.ssh through the passwd entry, not $HOME: keys are named with -i, and no
    // agent of the machine's is offered.
    env = { HOME: home, XDG_CONFIG_HOME: undefined, SSH_AUTH_SOCK: undefined, WARREN_CONTEXT: undefined };
    const added = cli(["ssh-key", "add", `${key}.pub`]);
    assert.equal(added.status, 0, added.stderr);
    const up = cli(["up", "--name", "sshc", "--detach"]);
    assert.equal(up.status, 0, up.stderr);
  });
  after(async () => {
    await h?.teardown();
  });

  it("the remote command's status passes through: id -u prints 0, exit 7 exits 7", () => {
    const id = cli(["ssh", "-i", key, "sshc", "--", "id", "-u"]);
    assert.equal(id.status, 0, id.stderr);
    assert.equal(id.stdout, "0\n");
    const seven = cli(["ssh", "-i", key, "sshc", "--", "exit 7"]);
    assert.equal(seven.status, 7, seven.stderr);
  });

  it("a key the gateway does not know: OpenSSH's failure exits 125", () => {
    const stranger = path.join(home, "stranger");
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", stranger]);
    const r = cli(["ssh", "-i", stranger, "sshc", "--", "true"]);
    assert.equal(r.status, 125, r.stderr);
    assert.match(r.stderr, /Permission denied \(publickey\)/);
  });

  it("ssh-config --write: `ssh -F FILE sshc.warren` logs in with the key pinned", () => {
    const file = path.join(home, ".ssh", "config");
    const w = cli(["ssh-config", "--write", "--ssh-config", file, "-i", key]);
    assert.equal(w.status, 0, w.stderr);
    assert.match(readFileSync(file, "utf8"), /^Host sshc\.warren$/m);
    const out = execFileSync("ssh", ["-F", file, "-o", "BatchMode=yes", "sshc.warren", "id", "-u"], {
      env: { ...process.env, ...env, HOME: home },
      encoding: "utf8",
      input: "",
      timeout: 30_000,
    });
    assert.equal(out, "0\n");
  });
});
