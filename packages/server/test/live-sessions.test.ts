// Revoking or expiring a token, or removing a member, ends the live sessions it authorised: the
// registry on its own (a fake clock drives expiry and the periodic re-check), then every session
// kind end to end on a control plane in server mode with a runner dialled in over TLS.
import assert from "node:assert/strict";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { tlsTransport, unixTransport } from "@warren/protocol";
import {
  dataAfterEnd,
  execProbe,
  logsProbe,
  type Probe,
  watchProbe,
  withBearer,
} from "@warren/testing/live-session-probes";
import {
  createToken,
  type Endpoint,
  revoke,
  runnerWithEnv,
  type TickingRunner,
} from "@warren/testing/live-sessions-world";
import { tempDir } from "@warren/testing/server-harness";
import { callJson } from "@warren/testing/server-process";
import { systemClock } from "../src/clock.ts";
import { type Daemon, runDaemon } from "../src/daemon.ts";
import { silentLogger } from "../src/logger.ts";
import type { Actor } from "../src/services/actor.ts";
import { createIdentityService } from "../src/services/identity.ts";
import {
  type CredentialVerdict,
  createLiveSessions,
  RECHECK_MS,
  revokedEnd,
  type SessionEnd,
  type SessionHandle,
} from "../src/services/live-sessions.ts";
import { BOOTSTRAP_ORG_ID } from "../src/store/migrations/005_identity.ts";
import { parseRevocation, revocationPayloads } from "../src/store/pg-change-bus.ts";
import { FakeClock, flush } from "./fake-clock.ts";

const user = (tokenId: string, userId = "usr_a", orgId = "org_a"): Actor => ({
  kind: "user",
  userId,
  orgId,
  role: "member",
  via: "token",
  tokenId,
});

/** Read through a call, so an earlier assertion's narrowing does not stick. */
const endOf = (h: SessionHandle): SessionEnd | undefined => h.ended;

describe("the live-session registry", () => {
  test("a revoked token ends its sessions once, with 4401; closed and other sessions stay", () => {
    const s = createLiveSessions({ clock: new FakeClock(), logger: silentLogger });
    const ends: [string, SessionEnd][] = [];
    const a1 = s.open("watch", user("tok_1"), (why) => ends.push(["a1", why]));
    s.open("exec", user("tok_1"), (why) => ends.push(["a2", why]));
    const closed = s.open("logs", user("tok_1"), (why) => ends.push(["closed", why]));
    s.open("watch", user("tok_2"), (why) => ends.push(["b", why]));
    s.open("watch", { kind: "system", job: "test" }, (why) => ends.push(["system", why]));
    s.open("watch", { ...user("x"), via: "local-socket", tokenId: undefined } as Actor, (why) =>
      ends.push(["root", why]),
    );
    closed.close();
    const told: unknown[] = [];
    s.onRevoke((r) => told.push(r));

    assert.equal(s.revoke({ tokenIds: ["tok_1"] }), 2);
    assert.deepEqual(
      ends.map(([who]) => who),
      ["a1", "a2"],
    );
    assert.equal(ends[0]?.[1].closeCode, 4401);
    assert.equal(ends[0]?.[1].code, "UNAUTHENTICATED");
    assert.match(ends[0]?.[1].message ?? "", /tok_1 was revoked/);
    assert.equal(a1.ended?.cause, "revoked");
    assert.deepEqual(told, [{ tokenIds: ["tok_1"] }], "revoke passes it on to the other replicas");
    assert.equal(s.revoke({ tokenIds: ["tok_1"] }), 0, "ended once");
    assert.equal(s.receive({ tokenIds: ["tok_2"] }), 1);
    assert.equal(told.length, 2, "a received revocation is not passed on again");
    assert.deepEqual(s.list(), []);
  });

  test("removing a member ends that user's sessions in that organisation, with 4403", () => {
    const s = createLiveSessions({ clock: new FakeClock(), logger: silentLogger });
    const ended: string[] = [];
    s.open("watch", user("tok_1", "usr_a", "org_a"), () => ended.push("a in org_a"));
    s.open("watch", user("tok_2", "usr_a", "org_b"), () => ended.push("a in org_b"));
    s.open("watch", user("tok_3", "usr_b", "org_a"), () => ended.push("b in org_a"));
    let why: SessionEnd | undefined;
    s.open("exec", user("tok_4", "usr_a", "org_a"), (w) => {
      why = w;
    });
    s.open("runner", { kind: "runner", orgId: "org_a", tokenId: "tok_r" }, () => ended.push("runner"));
    assert.equal(s.revoke({ members: [{ orgId: "org_a", userId: "usr_a" }] }), 2);
    assert.deepEqual(ended, ["a in org_a"]);
    assert.equal(why?.closeCode, 4403);
    assert.equal(why?.code, "FORBIDDEN");
  });

  test("expiry: a timer per session, armed in steps past setTimeout's limit, on the injected clock", async () => {
    const clock = new FakeClock();
    const day = 86_400_000;
    const expiresAt = clock.now() + 30 * day;
    const s = createLiveSessions({
      clock,
      logger: silentLogger,
      check: async (creds) => creds.map((): CredentialVerdict => ({ ok: true, expiresAt })),
      recheckMs: 0,
    });
    const h = s.open("watch", user("tok_1"), () => {});
    await flush();
    await clock.advance(30 * day - 1);
    assert.equal(endOf(h), undefined, "not before its expiry");
    await clock.advance(1);
    assert.equal(endOf(h)?.cause, "expired");
    assert.equal(endOf(h)?.closeCode, 4401);
    assert.match(endOf(h)?.message ?? "", /tok_1 expired at/);
    assert.deepEqual(clock.pending(), [], "no timer left behind");
  });

  test("a credential revoked before the session registered is caught by the check at open", async () => {
    const s = createLiveSessions({
      clock: new FakeClock(),
      logger: silentLogger,
      check: async (creds) =>
        creds.map((c): CredentialVerdict => ({ ok: false, end: revokedEnd(c.tokenId!) })),
      recheckMs: 0,
    });
    const h = s.open("logs", user("tok_1"), () => {});
    assert.equal(endOf(h), undefined);
    await flush();
    assert.equal(endOf(h)?.cause, "revoked");
  });

  test("the periodic re-check ends sessions whose revocation was never heard", async () => {
    const clock = new FakeClock();
    const revoked = new Set<string>();
    const s = createLiveSessions({
      clock,
      logger: silentLogger,
      check: async (creds) =>
        creds.map(
          (c): CredentialVerdict =>
            revoked.has(c.tokenId!) ? { ok: false, end: revokedEnd(c.tokenId!) } : { ok: true },
        ),
    });
    const h = s.open("watch", user("tok_1"), () => {});
    const other = s.open("watch", user("tok_2"), () => {});
    await flush();
    revoked.add("tok_1");
    await clock.advance(RECHECK_MS - 1);
    assert.equal(endOf(h), undefined);
    await clock.advance(1);
    assert.equal(endOf(h)?.cause, "revoked");
    assert.equal(other.ended, undefined);
    s.close();
    assert.deepEqual(clock.pending(), [], "close stops the re-check");
  });
});

test("the change bus carries revocations in payloads under PostgreSQL's limit, read defensively", () => {
  const tokenIds = Array.from({ length: 1000 }, (_, i) => `tok_${String(i).padStart(16, "0")}`);
  const members = [{ orgId: "org_a", userId: "usr_a" }];
  const payloads = revocationPayloads({ tokenIds, members });
  assert.ok(payloads.length > 1, "chunked");
  for (const p of payloads)
    assert.ok(Buffer.byteLength(p) < 7900, "each fits one NOTIFY with its replica id");
  const back = payloads.map((p) => parseRevocation(p));
  assert.deepEqual(
    back.flatMap((r) => r?.tokenIds ?? []),
    tokenIds,
  );
  assert.deepEqual(
    back.flatMap((r) => r?.members ?? []),
    members,
  );
  for (const bad of [
    "",
    "{",
    "null",
    '{"tokenIds":[1],"members":[]}',
    '{"tokenIds":[],"members":[{"orgId":""}]}',
  ]) {
    assert.equal(parseRevocation(bad), undefined, bad);
  }
});

// One control plane in server mode on SQLite, a runner dialled in over TLS, environment "dev".
let d: Daemon | undefined;
let e: Endpoint;
let firstRunner: TickingRunner;
const cleanups: (() => Promise<void> | void)[] = [];
before(async () => {
  const tmp = tempDir("warren-revoke-");
  cleanups.push(tmp.cleanup);
  d = await runDaemon({
    socketPath: path.join(tmp.dir, "run", "warren.sock"),
    root: tmp.dir,
    defaultRuntime: "runc",
    logger: false,
    handleSignals: false,
    settleTimeoutMs: 8000,
    listen: "127.0.0.1:0",
  });
  cleanups.push(() => d?.close());
  const tls = d.tls!;
  const url = `https://127.0.0.1:${tls.port}`;
  e = {
    local: unixTransport(d.socketPath),
    url,
    fingerprint: tls.fingerprint,
    tls: (token) => tlsTransport({ url, fingerprint: tls.fingerprint, token }),
  };
  const { conn, runner } = await runnerWithEnv(e, "dev");
  firstRunner = runner;
  cleanups.push(() => conn.close());
});
after(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Opens the session, waits until data flows, revokes, and checks how it ended. */
async function revokeAndCheck(
  p: Probe,
  doRevoke: () => Promise<number>,
  expect: { closeCode?: number; reason: RegExp },
): Promise<void> {
  try {
    await Promise.race([
      p.open,
      p.ended.then(() => assert.fail("the session ended before it flowed")),
      new Promise<never>((_, rej) =>
        setTimeout(() => rej(new Error("the session did not start within 5 s")), 5000),
      ),
    ]);
    const returned = await doRevoke();
    const end = await Promise.race([
      p.ended,
      new Promise<never>((_, rej) =>
        setTimeout(() => rej(new Error("the session did not end within 1 s")), 1000),
      ),
    ]);
    assert.ok(end.at - returned < 1000);
    if (expect.closeCode !== undefined)
      assert.equal((end as { closeCode?: number }).closeCode, expect.closeCode);
    assert.match(end.reason, expect.reason);
    assert.ok(
      p.frames.some((f) => f.kind === "end"),
      "a frame says why it ended",
    );
    assert.deepEqual(dataAfterEnd(p), [], "no data after the end");
  } finally {
    p.close();
  }
}

describe("revocation ends every kind of live session", () => {
  test("an SSE watch gets a final ERROR event, then ends; later changes never reach it", async () => {
    const t = await createToken(e.local, "watcher");
    const p = watchProbe(e.tls(t.token));
    await revokeAndCheck(p, () => revoke(e.local, t.id), { reason: /UNAUTHENTICATED.*was revoked/ });
    await callJson(e.local, "POST", "/api/v1/environments", { name: "after-revoke" });
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(p.frames.filter((f) => f.text.includes("after-revoke")).length, 0);
  });

  test("a log follow gets a last line saying why, and the runner's later lines are not sent", async () => {
    const t = await createToken(e.local, "follower");
    const p = logsProbe(e.tls(t.token), "dev");
    await revokeAndCheck(p, () => revoke(e.local, t.id), {
      reason: /log stream closed: token .* was revoked/,
    });
  });

  test("an exec over TLS is killed; an error frame, then close 4401; no output after", async () => {
    const t = await createToken(e.local, "exec");
    const p = execProbe(e.tls(t.token), "dev");
    await revokeAndCheck(p, () => revoke(e.local, t.id), { closeCode: 4401, reason: /was revoked/ });
    assert.equal(p.control.at(-1)?.type, "error");
    assert.equal((p.control.at(-1) as { code?: string }).code, "UNAUTHENTICATED");
  });

  test("an exec over the daemon's own socket with a bearer token ends the same way", async () => {
    const t = await createToken(e.local, "exec-local");
    const p = execProbe(withBearer(e.local, t.token), "dev");
    await revokeAndCheck(p, () => revoke(e.local, t.id), { closeCode: 4401, reason: /was revoked/ });
  });

  test("a runner is disconnected with 4401 and gets no further call", async () => {
    // A second runner of the organisation, holding the environment placed while it was alone or not.
    const r = await runnerWithEnv(e, "dev2");
    const returned = await revoke(e.local, r.runnerToken.id);
    const reason = await Promise.race([
      r.conn.closed,
      new Promise<never>((_, rej) =>
        setTimeout(() => rej(new Error("runner still connected after 1 s")), 1000),
      ),
    ]);
    assert.ok(performance.now() - returned < 1000);
    assert.match(reason, /^4401 token .* was revoked/);
    const calls = r.runner.calls.length;
    const firstCalls = firstRunner.calls.length;
    const created = await callJson(e.local, "POST", "/api/v1/environments?wait=1", { name: "dev3" });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(r.runner.calls.length, calls, "the revoked runner received no call");
    assert.ok(firstRunner.calls.length > firstCalls, "the other runner took the placement");
  });

  test("revoking a token ends the sessions of the tokens it created (lineage)", async () => {
    const parent = await createToken(e.local, "parent");
    const child = await callJson(e.tls(parent.token), "POST", "/api/v1/tokens", { name: "child" });
    assert.equal(child.status, 201, JSON.stringify(child.body));
    const p = watchProbe(e.tls((child.body as { token: string }).token));
    await revokeAndCheck(p, () => revoke(e.local, parent.id), { reason: /was revoked/ });
  });

  test("removing a member ends their sessions with FORBIDDEN / 4403", async () => {
    const add = await callJson(e.local, "POST", `/api/v1/orgs/${BOOTSTRAP_ORG_ID}/members`, {
      name: "mallory",
      role: "member",
    });
    assert.ok(add.status < 300, JSON.stringify(add.body));
    const userId = (add.body as { userId: string }).userId;
    // Minted as sign-in would, through the service (only the member can create their own tokens).
    const identity = createIdentityService({ db: d!.store.db, clock: systemClock });
    const caller = { kind: "user", userId, orgId: BOOTSTRAP_ORG_ID, role: "member", via: "token" } as const;
    const t1 = await identity.createToken(caller, { name: "m1" });
    const t2 = await identity.createToken(caller, { name: "m2" });
    // A member sees only their own environments.
    const own = await callJson(e.tls(t2.token), "POST", "/api/v1/environments?wait=1", { name: "mallorys" });
    assert.equal(own.status, 201, JSON.stringify(own.body));
    const watch = watchProbe(e.tls(t1.token));
    const exec = execProbe(e.tls(t2.token), "mallorys");
    // Removed once both flow (revokeAndCheck waits for each before it calls this).
    let removal: Promise<number> | undefined;
    let flowing = 0;
    const bothOpen = new Promise<void>((res) => {
      const one = () => ++flowing === 2 && res();
      void watch.open.then(one);
      void exec.open.then(one);
    });
    const removed = () =>
      (removal ??= bothOpen
        .then(() => callJson(e.local, "DELETE", `/api/v1/orgs/${BOOTSTRAP_ORG_ID}/members/${userId}`))
        .then((r) => {
          assert.equal(r.status, 204, JSON.stringify(r.body));
          return performance.now();
        }));
    await Promise.all([
      revokeAndCheck(watch, removed, { reason: /FORBIDDEN.*no longer a member/ }),
      revokeAndCheck(exec, removed, { closeCode: 4403, reason: /no longer a member/ }),
    ]);
  });

  test("a token that expires ends its sessions at its expiry", async () => {
    const t = await createToken(e.local, "short");
    const expiresAt = new Date(Date.now() + 700).toISOString();
    await d!.store.db
      .updateTable("api_tokens")
      .set({ expires_at: expiresAt })
      .where("id", "=", t.id)
      .execute();
    const p = watchProbe(e.tls(t.token));
    await p.open;
    const end = await p.ended;
    assert.match(end.reason, /expired at/);
    assert.ok(Date.now() >= Date.parse(expiresAt), "not before its expiry");
    assert.ok(Date.now() - Date.parse(expiresAt) < 1000, "within 1 s of its expiry");
    assert.deepEqual(dataAfterEnd(p), []);
  });
});
