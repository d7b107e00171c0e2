// Pulls from real docker-registry instances that require a login: htpasswd (Basic) and token
// auth (a Bearer challenge pointing at a node token service that signs JWTs the registry checks
// against its rootcertbundle). Registries and temp dirs are removed in after() hooks.
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { isWarrenError } from "@warren/protocol";
import { twoLayerLayout } from "@warren/testing/oci-layout";
import { pushLayout, startRegistry, type TestRegistry } from "@warren/testing/registry";
import { ImageStore } from "../src/storage/image-store.ts";
import { parseAllowList } from "../src/storage/registry/address-guard.ts";
import type { HttpPolicy } from "../src/storage/registry/http.ts";
import { pullFromRegistry } from "../src/storage/registry/pull.ts";

const policy: HttpPolicy = { allow: parseAllowList("127.0.0.1"), insecure: new Set(), timeoutMs: 10_000 };
const login = { user: "dev", password: "s3cret pass:word" };

let work: string;
let basicReg: TestRegistry;
let tokenReg: TestRegistry;
let fx: Awaited<ReturnType<typeof twoLayerLayout>>;

before(async () => {
  work = await fs.mkdtemp(path.join(os.tmpdir(), "warren-pull-auth-"));
  fx = await twoLayerLayout(path.join(work, "layout"));
  basicReg = await startRegistry({ auth: { kind: "basic", ...login } });
  tokenReg = await startRegistry({ auth: { kind: "token", ...login } });
  for (const reg of [basicReg, tokenReg]) {
    await pushLayout(reg, fx.builder.dir, "test/two:1", "team/two:1", {
      creds: `${login.user}:${login.password}`,
    });
  }
});

after(async () => {
  await basicReg?.stop();
  await tokenReg?.stop();
  if (work) await fs.rm(work, { recursive: true, force: true });
});

async function newStore(t: { after: (fn: () => Promise<void>) => void }): Promise<ImageStore> {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), "warren-pull-store-"));
  t.after(() => fs.rm(root, { recursive: true, force: true }));
  return new ImageStore({ root });
}

const denied = (host: string) => (e: unknown) =>
  isWarrenError(e, "REGISTRY_AUTH_FAILED") && e.message.includes(`warren registry login ${host}`);

for (const kind of ["basic", "token"] as const) {
  test(`${kind} auth: anonymous and wrong logins are denied, the right one pulls`, async (t) => {
    const reg = kind === "basic" ? basicReg : tokenReg;
    const store = await newStore(t);
    const ref = `${reg.host}/team/two:1`;
    await assert.rejects(
      pullFromRegistry(store, ref, () => {}, { policy }),
      denied(reg.host),
    );
    await assert.rejects(
      pullFromRegistry(store, ref, () => {}, { policy, credential: { username: "dev", password: "nope" } }),
      denied(reg.host),
    );
    assert.deepEqual(await store.list(), []);

    reg.tokenRequests.length = 0;
    const info = await pullFromRegistry(store, ref, () => {}, {
      policy,
      credential: { username: login.user, password: login.password },
    });
    assert.equal(info.digest, fx.manifest.digest);
    const img = await store.get(ref);
    assert.equal(await fs.readFile(path.join(img.layerDirs[0]!, "etc/hello"), "utf8"), "hello\n");
    if (kind === "token") {
      // The token service saw the login and a pull scope for the repository.
      assert.ok(reg.tokenRequests.length >= 1);
      assert.ok(reg.tokenRequests.every((r) => r.user === "dev" && r.scope === "repository:team/two:pull"));
    }
  });
}

test("a token realm on a refused address is refused before any login is sent", async (t) => {
  const store = await newStore(t);
  tokenReg.tokenRequests.length = 0;
  // The registry itself is allowed by name; its realm (127.0.0.1:<token port>) is not.
  const strict: HttpPolicy = { ...policy, allow: parseAllowList(`127.0.0.1:${tokenReg.port}`) };
  await assert.rejects(
    pullFromRegistry(store, `${tokenReg.host}/team/two:1`, () => {}, {
      policy: strict,
      credential: { username: login.user, password: login.password },
    }),
    (e) => isWarrenError(e, "REGISTRY_REFUSED") && /token realm/.test(e.message),
  );
  assert.equal(tokenReg.tokenRequests.length, 0, "the token service must not be called");
});

test("a plain-HTTP token realm the allow-list only covers by range never sees the login", async (t) => {
  const store = await newStore(t);
  tokenReg.tokenRequests.length = 0;
  // Both the registry and its realm are reachable (127.0.0.0/8), but only the registry is named.
  const ranged: HttpPolicy = { ...policy, allow: parseAllowList(`127.0.0.1:${tokenReg.port},127.0.0.0/8`) };
  await assert.rejects(
    pullFromRegistry(store, `${tokenReg.host}/team/two:1`, () => {}, {
      policy: ranged,
      credential: { username: login.user, password: login.password },
    }),
    (e) =>
      isWarrenError(e, "REGISTRY_AUTH_FAILED") &&
      /token realm 127\.0\.0\.1:\d+ is plain HTTP, so the login is not sent there/.test(e.message) &&
      e.message.includes("WARREN_REGISTRY_ALLOW"),
  );
  assert.equal(tokenReg.tokenRequests.length, 0, "the token service must not be called");
  // Without a login there is nothing to protect: an anonymous token request may go there.
  await assert.rejects(pullFromRegistry(store, `${tokenReg.host}/team/two:1`, () => {}, { policy: ranged }));
  assert.deepEqual(
    tokenReg.tokenRequests.map((r) => r.user),
    [null],
  );
  assert.deepEqual(await store.list(), []);
});

test("a plain-HTTP registry asking for Basic auth gets the login only when the allow-list names it", async (t) => {
  const store = await newStore(t);
  const ref = `${basicReg.host}/team/two:1`;
  const credential = { username: login.user, password: login.password };
  await assert.rejects(
    pullFromRegistry(store, ref, () => {}, {
      policy: { ...policy, allow: parseAllowList("127.0.0.0/8") },
      credential,
    }),
    (e) =>
      isWarrenError(e, "REGISTRY_AUTH_FAILED") &&
      /the registry 127\.0\.0\.1:\d+ is plain HTTP/.test(e.message),
  );
  assert.deepEqual(await store.list(), []);
  const named: HttpPolicy = { ...policy, allow: parseAllowList(`127.0.0.1:${basicReg.port}`) };
  const info = await pullFromRegistry(store, ref, () => {}, { policy: named, credential });
  assert.equal(info.digest, fx.manifest.digest);
});
