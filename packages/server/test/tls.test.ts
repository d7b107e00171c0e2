// The remote listener without a daemon: the real app (fake runner) served over TLS with a
// certificate made by loadOrCreateCertificate, reached by the protocol client's pinned transport.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { statSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { createClient, isWarrenError, normalizeFingerprint, tlsTransport } from "@warren/protocol";
import { type Harness, harness, tempDir } from "@warren/testing/server-harness";
import type { FastifyInstance } from "fastify";
import { systemClock } from "../src/clock.ts";
import { build } from "../src/http/build.ts";
import { listenTls, parseListen, type TlsListener } from "../src/http/listen-tls.ts";
import { loadOrCreateCertificate, type TlsMaterial, tlsPaths } from "../src/http/tls-cert.ts";
import { createIdentityService, type IdentityService, LOCAL_ROOT } from "../src/services/identity.ts";
import { createImageService } from "../src/services/images.ts";

const WRONG = "AA:".repeat(31) + "AA";

interface Served {
  app: FastifyInstance;
  listener: TlsListener;
  url: string;
  seen: { authorization: string | undefined }[];
}

/** The real app with real token auth (http/auth.ts); `seen` records what reached fastify. */
async function serve(h: Harness, material: TlsMaterial, identity: IdentityService): Promise<Served> {
  const app = build({
    envs: h.envs,
    classes: h.classes,
    images: createImageService({ runner: h.runner }),
    runner: h.runner,
    identity,
    logger: process.env["TLSDBG"] ? { level: "error" } : false,
  });
  const seen: Served["seen"] = [];
  app.addHook("onRequest", async (req) => {
    seen.push({ authorization: req.headers.authorization });
  });
  const listener = await listenTls(app, {
    host: "127.0.0.1",
    port: 0,
    cert: material.cert,
    key: material.key,
  });
  return { app, listener, url: `https://127.0.0.1:${listener.address.port}`, seen };
}

describe("TLS listener", () => {
  let h: Harness;
  let tmp: { dir: string; cleanup(): void };
  let material: TlsMaterial;
  let identity: IdentityService;
  let token: string;
  before(async () => {
    h = await harness();
    identity = createIdentityService({ db: h.store.db, clock: systemClock });
    token = (await identity.createToken(LOCAL_ROOT, { name: "tls-test" })).token;
    tmp = tempDir("warren-tls-");
    material = await loadOrCreateCertificate({ root: tmp.dir, listenHost: "127.0.0.1" });
  });
  after(async () => {
    await h.close();
    tmp.cleanup();
  });

  it("makes a self-signed ECDSA P-256 certificate once, 0600, with the fingerprint openssl reports", async () => {
    assert.equal(material.generated, true);
    const p = tlsPaths(tmp.dir);
    assert.equal(statSync(p.cert).mode & 0o777, 0o600);
    assert.equal(statSync(p.key).mode & 0o777, 0o600);
    assert.equal(statSync(p.dir).mode & 0o777, 0o700);
    const text = execFileSync(
      "openssl",
      ["x509", "-in", p.cert, "-noout", "-text", "-fingerprint", "-sha256"],
      {
        encoding: "utf8",
      },
    );
    assert.match(text, /prime256v1|P-256/);
    assert.match(text, /IP Address:127\.0\.0\.1/);
    const fp = /sha256 Fingerprint=([0-9A-F:]+)/i.exec(text)?.[1];
    assert.equal(normalizeFingerprint(fp!), material.fingerprint);
    const again = await loadOrCreateCertificate({ root: tmp.dir });
    assert.equal(again.generated, false);
    assert.equal(again.fingerprint, material.fingerprint);
  });

  it("marks TLS requests remote: no token is a 401, while the local socket needs none", async () => {
    const s = await serve(h, material, identity);
    try {
      const client = createClient({
        transport: tlsTransport({ url: s.url, fingerprint: material.fingerprint }),
      });
      await assert.rejects(client.listEnvironments(), (e) => isWarrenError(e, "UNAUTHENTICATED"));
      const local = await s.app.inject({ method: "GET", url: "/api/v1/environments" });
      assert.equal(local.statusCode, 200);
    } finally {
      await s.listener.close();
      await s.app.close();
    }
  });

  it("serves an authenticated request and sends the Bearer token", async () => {
    const s = await serve(h, material, identity);
    try {
      const fp = material.fingerprint.replaceAll(":", "").toLowerCase(); // any accepted spelling
      const client = createClient({ transport: tlsTransport({ url: s.url, fingerprint: fp, token }) });
      assert.deepEqual(await client.listEnvironments(), []);
      assert.equal(s.seen.at(-1)?.authorization, `Bearer ${token}`);
      // The exec WebSocket goes over wss through the same app: the route answers (no such env).
      const outcome = await new Promise<unknown>((resolve) => {
        const handlers = { stdout() {}, stderr() {}, exit: resolve, error: resolve };
        client.exec("nope", { cmd: ["true"], tty: false }, handlers).catch(resolve);
      });
      assert.ok(isWarrenError(outcome, "ENV_NOT_FOUND"), String(outcome));
    } finally {
      await s.listener.close();
      await s.app.close();
    }
  });

  it("refuses a wrong fingerprint before any request is sent, naming both", async () => {
    const s = await serve(h, material, identity);
    let requests = 0;
    s.listener.server.on("request", () => requests++);
    s.listener.server.on("upgrade", () => requests++);
    try {
      const client = createClient({ transport: tlsTransport({ url: s.url, fingerprint: WRONG, token }) });
      await assert.rejects(client.health(), (e: Error) => {
        assert.ok(e.message.includes(material.fingerprint), e.message);
        assert.ok(e.message.includes(WRONG), e.message);
        return true;
      });
      await assert.rejects(
        client.exec("nope", { cmd: ["true"], tty: false }, { stdout() {}, stderr() {}, exit() {} }),
        /pinned fingerprint/,
      );
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(requests, 0);
      assert.equal(s.seen.length, 0);
    } finally {
      await s.listener.close();
      await s.app.close();
    }
  });

  it("parses listen addresses", () => {
    assert.deepEqual(parseListen("0.0.0.0:7443"), { host: "0.0.0.0", port: 7443 });
    assert.deepEqual(parseListen("[::1]:7443"), { host: "::1", port: 7443 });
    assert.deepEqual(parseListen(":7443"), { host: "0.0.0.0", port: 7443 });
    assert.throws(() => parseListen("7443"), /HOST:PORT/);
  });
});
