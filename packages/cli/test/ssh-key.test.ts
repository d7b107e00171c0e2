// `warren ssh-key add | ls | rm` from the real CLI against the real control plane in this process:
// the default key file under ~/.ssh, a named file, stdin, refusals that exit 1 saying why, and a
// private key that is refused before anything is sent.
import assert from "node:assert/strict";
import { createHash, generateKeyPairSync } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import type { SshKey } from "@warren/protocol";
import { type InprocDaemon, startInprocDaemon } from "@warren/testing/inproc-daemon";
import { tempDir } from "@warren/testing/server-harness";
import { runCli } from "./fake-daemon.ts";

// A real `ssh-keygen -t dsa` public key, which the server must refuse.
const DSA_PUB =
  "ssh-dss AAAAB3NzaC1kc3MAAACBAOX92OeM4yFkuz1whQgU8APmY91kv41rwzYggmAOgEo7wt/w4U3IZwBBtkpCyAREIqdxTetV2aSLfQU94VhKYW5gAvQTfIC3MPsfmrA8CyFQOJx8IlxJw3A3rCPXO6aeEcEMOhvwwz5WjhCLYqAivmsb7bNNnvLhrHJRbHMMtiKxAAAAFQC6nX8E8FYK7C++xwnBxLtjvnNa/wAAAIEA1A/ihtklyRm9Cg4WF7PvpvXMeMgxgnQ923VPABFiIguSSnG0CkJvZ73BCuD/nwp0ogdkXTyRwShdO6eZpU9/E5slKPnqug6OIG3DKet++pHxrH5zkagDy6w65leUxemxdtrVNLKHh+PlfMlIAGZX52z2U4tCw2GRf8IGvZnolr0AAACBAJzW1qSM+kbS9HCmZ+6XXyB8eudSOekTvpEF80V4KNuWxFSYVuO131/I1ZLj0gN0a9GX5lag3y7asGxkLss2U7ZH9iUbcHWAyzjOvaS24qmdJuaCkJ6T6xd1ZQ7yS6FnHbZqabgtYgJlRWheQLhb1qcmOozkq7Fz5kJ+Bw6s/ySU me@x";

/** An ed25519 public key line as ssh-keygen writes it (RFC 8709 blob), and its fingerprint. */
function ed25519Line(comment: string): { line: string; fingerprint: string } {
  const { publicKey } = generateKeyPairSync("ed25519");
  const raw = Buffer.from(publicKey.export({ format: "jwk" }).x!, "base64url");
  const field = (b: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(b.length);
    return Buffer.concat([len, b]);
  };
  const blob = Buffer.concat([field(Buffer.from("ssh-ed25519")), field(raw)]);
  const fp = createHash("sha256").update(blob).digest("base64").replace(/=+$/, "");
  return { line: `ssh-ed25519 ${blob.toString("base64")} ${comment}\n`, fingerprint: `SHA256:${fp}` };
}

let d: InprocDaemon;
const home = tempDir("warren-sshkey-home-");
before(async () => {
  d = await startInprocDaemon();
});
after(async () => {
  await d?.close();
  home.cleanup();
});

const cli = (args: string[], input?: string) =>
  runCli(args, {
    env: { WARREN_SOCKET: d.socket, HOME: home.dir },
    ...(input !== undefined ? { input } : {}),
  });
const listed = async () => JSON.parse((await cli(["ssh-key", "ls", "--json"])).stdout) as SshKey[];

describe("warren ssh-key", () => {
  it("says where it looked when there is no key, then adds ~/.ssh/id_ed25519.pub by default", async () => {
    const none = await cli(["ssh-key", "add"]);
    assert.equal(none.status, 1);
    assert.match(
      none.stderr,
      /no public key found \(looked for .*id_ed25519\.pub, .*id_ecdsa\.pub, .*id_rsa\.pub\)/,
    );
    assert.match(none.stderr, /ssh-keygen -t ed25519/);

    const key = ed25519Line("me@laptop");
    fs.mkdirSync(path.join(home.dir, ".ssh"), { mode: 0o700 });
    fs.writeFileSync(path.join(home.dir, ".ssh", "id_ed25519.pub"), key.line);
    const r = await cli(["ssh-key", "add"]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(
      r.stdout,
      new RegExp(
        `^added ssk_[0-9a-f]+ ${key.fingerprint.replace(/[+/]/g, "\\$&")} \\(ssh-ed25519, me@laptop\\)\\n$`,
      ),
    );
    const keys = await listed();
    assert.equal(keys.length, 1);
    assert.equal(keys[0]!.fingerprint, key.fingerprint);

    const again = await cli(["ssh-key", "add"]);
    assert.equal(again.status, 1);
    assert.match(again.stderr, /already added the key/);
  });

  it("adds a named file and stdin with --name, lists them in a table, removes one by id", async () => {
    const file = path.join(home.dir, "work.pub");
    const work = ed25519Line("work");
    fs.writeFileSync(file, work.line);
    const byFile = await cli(["ssh-key", "add", file, "--name", "work laptop", "--json"]);
    assert.equal(byFile.status, 0, byFile.stderr);
    const added = JSON.parse(byFile.stdout) as SshKey;
    assert.equal(added.name, "work laptop");
    const piped = ed25519Line("agent");
    const byStdin = await cli(["ssh-key", "add", "-"], piped.line);
    assert.equal(byStdin.status, 0, byStdin.stderr);

    const table = await cli(["ssh-key", "ls"]);
    assert.equal(table.status, 0, table.stderr);
    const lines = table.stdout.trimEnd().split("\n");
    assert.match(lines[0]!, /^ID\s+NAME\s+TYPE\s+FINGERPRINT\s+ADDED$/);
    assert.ok(
      lines.some((l) => l.includes(added.id) && l.includes("work laptop") && l.includes(work.fingerprint)),
    );
    assert.ok(lines.some((l) => l.includes(piped.fingerprint) && l.includes("agent")));

    const rm = await cli(["ssh-key", "rm", added.id]);
    assert.equal(rm.status, 0, rm.stderr);
    assert.equal(rm.stdout, `removed ${added.id}\n`);
    assert.ok(!(await listed()).some((k) => k.id === added.id));
    const missing = await cli(["ssh-key", "rm", added.id]);
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, new RegExp(`no SSH key ${added.id}`));
  });

  it("refuses a DSA key (server) and a private key (before sending), exit 1", async () => {
    const count = (await listed()).length;
    const dsa = await cli(["ssh-key", "add", "-"], DSA_PUB);
    assert.equal(dsa.status, 1);
    assert.match(
      dsa.stderr,
      /DSA \(ssh-dss\) keys are not accepted; use ed25519, ECDSA .* or RSA of at least 3072 bits/,
    );

    const { privateKey } = generateKeyPairSync("ed25519");
    const pem = privateKey.export({ format: "pem", type: "pkcs8" }).toString();
    const auditBefore = (await d.auditRecords()).length;
    const priv = await cli(["ssh-key", "add", "-"], pem);
    assert.equal(priv.status, 1);
    assert.match(priv.stderr, /stdin holds a private key, which never leaves this machine/);
    assert.equal((await d.auditRecords()).length, auditBefore, "nothing reached the server");
    assert.equal((await listed()).length, count);
  });
});
