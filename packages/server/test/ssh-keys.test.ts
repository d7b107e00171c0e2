// Users' SSH public keys over the API (in-process inject, remote transport: every caller has a
// token): add, list and remove; refusals of weak or malformed keys naming what they were and what
// is accepted; who may see and remove whose key; audit records; the removal hook the gateway uses.

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, describe, it } from "node:test";
import type { SshKey } from "@warren/protocol";
import { type Harness, harness, SYSTEM } from "@warren/testing/server-harness";
import type { FastifyInstance } from "fastify";
import ssh2 from "ssh2";
import { systemClock } from "../src/clock.ts";
import { build } from "../src/http/build.ts";
import { createAuditService } from "../src/services/audit.ts";
import { generateEd25519 } from "../src/services/ed25519-keypair.ts";
import { type Caller, createIdentityService, LOCAL_ROOT } from "../src/services/identity.ts";
import { createImageService } from "../src/services/images.ts";
import { createSshKeyService, type RemovedSshKey, type SshKeyService } from "../src/services/ssh-keys.ts";
import { BOOTSTRAP_ORG_ID } from "../src/store/migrations/005_identity.ts";

// A real `ssh-keygen -t dsa` public key: ssh2 cannot make DSA keys, and DSA must be refused.
const DSA_PUB =
  "ssh-dss AAAAB3NzaC1kc3MAAACBAOX92OeM4yFkuz1whQgU8APmY91kv41rwzYggmAOgEo7wt/w4U3IZwBBtkpCyAREIqdxTetV2aSLfQU94VhKYW5gAvQTfIC3MPsfmrA8CyFQOJx8IlxJw3A3rCPXO6aeEcEMOhvwwz5WjhCLYqAivmsb7bNNnvLhrHJRbHMMtiKxAAAAFQC6nX8E8FYK7C++xwnBxLtjvnNa/wAAAIEA1A/ihtklyRm9Cg4WF7PvpvXMeMgxgnQ923VPABFiIguSSnG0CkJvZ73BCuD/nwp0ogdkXTyRwShdO6eZpU9/E5slKPnqug6OIG3DKet++pHxrH5zkagDy6w65leUxemxdtrVNLKHh+PlfMlIAGZX52z2U4tCw2GRf8IGvZnolr0AAACBAJzW1qSM+kbS9HCmZ+6XXyB8eudSOekTvpEF80V4KNuWxFSYVuO131/I1ZLj0gN0a9GX5lag3y7asGxkLss2U7ZH9iUbcHWAyzjOvaS24qmdJuaCkJ6T6xd1ZQ7yS6FnHbZqabgtYgJlRWheQLhb1qcmOozkq7Fz5kJ+Bw6s/ySU me@x";

const ed25519 = (comment = "me@laptop") => generateEd25519(comment);
/** What `ssh-keygen -l` prints, computed from the line's base64 field. */
const fingerprint = (line: string) =>
  `SHA256:${createHash("sha256")
    .update(Buffer.from(line.split(" ")[1]!, "base64"))
    .digest("base64")
    .replace(/=+$/, "")}`;

const ORG_B = "org_sk_other";
let h: Harness;
let app: FastifyInstance;
let keys: SshKeyService;
const removed: RemovedSshKey[] = [];
const tokens: Record<"member" | "peer" | "admin" | "other", string> = {} as never;
const callers: Record<keyof typeof tokens, Caller> = {} as never;

before(async () => {
  h = await harness();
  const db = h.store.db;
  const identity = createIdentityService({ db, clock: systemClock });
  keys = createSshKeyService({ db, clock: systemClock });
  keys.onRemoved((k) => removed.push(k));
  app = build({
    envs: h.envs,
    classes: h.classes,
    images: createImageService({ runner: h.runner }),
    runner: h.runner,
    logger: false,
    identity,
    transport: "tls",
    db,
    audit: createAuditService({ db, clock: systemClock }),
    sshKeys: keys,
  });
  await db
    .insertInto("orgs")
    .values({ id: ORG_B, name: "sk-other", created_at: "2026-01-01T00:00:00.000Z" })
    .execute();
  const join = async (org: string, name: string, role: Caller["role"]): Promise<Caller> => {
    const by: Caller =
      org === BOOTSTRAP_ORG_ID ? LOCAL_ROOT : { ...LOCAL_ROOT, orgId: org, userId: "usr_nobody" };
    const m = await identity.addMember(by, org, { name, role });
    return { kind: "user", userId: m.userId, orgId: org, role, via: "token" };
  };
  callers.member = await join(BOOTSTRAP_ORG_ID, "sk-member", "member");
  callers.peer = await join(BOOTSTRAP_ORG_ID, "sk-peer", "member");
  callers.admin = await join(BOOTSTRAP_ORG_ID, "sk-admin", "admin");
  callers.other = await join(ORG_B, "sk-other-owner", "owner");
  for (const who of Object.keys(callers) as (keyof typeof callers)[]) {
    tokens[who] = (await identity.createToken(callers[who], { name: `${who}-token` })).token;
  }
});
after(async () => {
  await app?.close();
  await h?.close();
});

async function call(
  who: keyof typeof tokens,
  method: "GET" | "POST" | "DELETE",
  url: string,
  body?: unknown,
) {
  const r = await app.inject({
    method,
    url: `/api/v1${url}`,
    headers: { authorization: `Bearer ${tokens[who]}` },
    ...(body === undefined ? {} : { payload: body as object }),
  });
  return { status: r.statusCode, body: r.body ? (r.json() as Record<string, unknown>) : {} };
}
const add = (who: keyof typeof tokens, publicKey: string, name?: string) =>
  call(who, "POST", "/ssh-keys", name === undefined ? { publicKey } : { publicKey, name });
const list = async (who: keyof typeof tokens, q = "") =>
  (await call(who, "GET", `/ssh-keys${q}`)).body["items"] as SshKey[];

describe("ssh keys", () => {
  it("adds, lists and removes a user's keys: ed25519, ECDSA and RSA 3072, fingerprints as ssh-keygen", async () => {
    const pairs = [
      ["ssh-ed25519", 256, ed25519()],
      ["ecdsa-sha2-nistp384", 384, ssh2.utils.generateKeyPairSync("ecdsa", { bits: 384, comment: "ec" })],
      ["ssh-rsa", 3072, ssh2.utils.generateKeyPairSync("rsa", { bits: 3072, comment: "big" })],
    ] as const;
    const ids: string[] = [];
    for (const [type, bits, pair] of pairs) {
      const r = await add("member", `${pair.public}\n`);
      assert.equal(r.status, 201, JSON.stringify(r.body));
      const k = r.body as unknown as SshKey;
      assert.equal(k.type, type);
      assert.equal(k.bits, bits);
      assert.equal(k.fingerprint, fingerprint(pair.public));
      assert.equal(k.userId, callers.member.userId);
      assert.equal(k.name, pair.public.split(" ")[2]);
      ids.push(k.id);
    }
    const named = await add("member", ed25519().public, "work laptop");
    assert.equal(named.status, 201);
    assert.equal(named.body["name"], "work laptop");
    ids.push(named.body["id"] as string);
    assert.deepEqual(
      (await list("member")).map((k) => k.id),
      ids,
    );
    assert.deepEqual(await list("peer"), [], "another member sees none of them");

    const rm = await call("member", "DELETE", `/ssh-keys/${ids[0]}`);
    assert.equal(rm.status, 204);
    assert.deepEqual(
      (await list("member")).map((k) => k.id),
      ids.slice(1),
    );
    assert.equal(removed.at(-1)?.id, ids[0], "the gateway's hook heard of the removal");
    assert.equal(removed.at(-1)?.userId, callers.member.userId);
    assert.equal((await call("member", "DELETE", `/ssh-keys/${ids[0]}`)).status, 404, "gone is gone");
  });

  it("refuses DSA, RSA 2048, garbage, private keys and a duplicate, saying what is accepted", async () => {
    const refusals: [string, RegExp][] = [
      [DSA_PUB, /DSA \(ssh-dss\) keys are not accepted; use ed25519, ECDSA .* or RSA of at least 3072 bits/],
      [
        ssh2.utils.generateKeyPairSync("rsa", { bits: 2048 }).public,
        /RSA keys of 2048 bits are too small; use ed25519/,
      ],
      ["ssh-ed25519 bm90IGEga2V5 me", /not an OpenSSH public key/],
      ["hello world", /not an OpenSSH public key/],
      [ed25519().private, /that is a private key; give the public key/],
      [`${ed25519().public}\n${ed25519().public}`, /expected one OpenSSH public key line.*got 2 lines/],
    ];
    const before = (await list("member")).length;
    for (const [text, message] of refusals) {
      const r = await add("member", text);
      assert.equal(r.status, 400, text);
      assert.equal(r.body["code"], "INVALID_ARGUMENT");
      assert.match(String(r.body["message"]), message);
    }
    const pair = ed25519();
    assert.equal((await add("member", pair.public)).status, 201);
    const dup = await add("member", pair.public.replace("me@laptop", "other comment"));
    assert.equal(dup.status, 409);
    assert.equal(dup.body["code"], "SSH_KEY_EXISTS");
    assert.match(String(dup.body["message"]), new RegExp(fingerprint(pair.public).replace(/[+/]/g, "\\$&")));
    assert.equal((await list("member")).length, before + 1, "no refusal stored anything");
    // Another user may register the same public key: possession of the private key is what counts.
    assert.equal((await add("peer", pair.public)).status, 201);
  });

  it("another organisation's key id is 404, as is another member's; admins list and remove members' keys", async () => {
    const mine = (await add("member", ed25519().public)).body["id"] as string;
    const theirs = (await add("other", ed25519().public)).body["id"] as string;
    for (const who of ["other", "peer"] as const) {
      const r = await call(who, "DELETE", `/ssh-keys/${mine}`);
      assert.equal(r.status, 404, who);
      assert.equal(r.body["code"], "NOT_FOUND");
    }
    assert.equal(
      (await call("admin", "DELETE", `/ssh-keys/${theirs}`)).status,
      404,
      "admins stay in their org",
    );
    assert.ok(
      (await list("member")).some((k) => k.id === mine),
      "the refused removals removed nothing",
    );

    const refused = await call("member", "GET", "/ssh-keys?all=1");
    assert.equal(refused.status, 403);
    const all = await list("admin", "?all=1");
    assert.ok(all.some((k) => k.id === mine));
    assert.ok(!all.some((k) => k.id === theirs), "no key of another organisation");
    assert.deepEqual(
      new Set(all.map((k) => k.userId)),
      new Set([callers.member.userId, callers.peer.userId]),
    );
    assert.equal((await call("admin", "DELETE", `/ssh-keys/${mine}`)).status, 204);
    assert.ok(!(await list("member")).some((k) => k.id === mine));
  });

  it("records adds and removals in the audit trail", async () => {
    const pair = ed25519();
    const id = (await add("member", pair.public)).body["id"] as string;
    await call("member", "DELETE", `/ssh-keys/${id}`);
    await call("peer", "DELETE", `/ssh-keys/${id}`);
    const rows = await h.store.db
      .selectFrom("audit_records")
      .select(["action", "target", "result", "actor"])
      .where("action", "like", "ssh-key.%")
      .where("target", "like", `%${id}%`)
      .orderBy("id")
      .execute();
    assert.deepEqual(
      rows.map((r) => [r.action, r.target, r.result, r.actor]),
      [
        ["ssh-key.add", `${id} ${fingerprint(pair.public)}`, "ok", callers.member.userId],
        ["ssh-key.remove", id, "ok", callers.member.userId],
        ["ssh-key.remove", id, "denied", callers.peer.userId],
      ],
    );
  });

  it("the gateway's lookup by fingerprint is the system's alone and spans organisations", async () => {
    const pair = ed25519();
    await add("member", pair.public);
    await add("other", pair.public);
    const found = await keys.byFingerprint(SYSTEM, fingerprint(pair.public));
    assert.deepEqual(found.map((k) => k.userId).sort(), [callers.member.userId, callers.other.userId].sort());
    await assert.rejects(
      keys.byFingerprint(callers.admin, fingerprint(pair.public)),
      /FORBIDDEN|not open to/,
    );
  });
});
