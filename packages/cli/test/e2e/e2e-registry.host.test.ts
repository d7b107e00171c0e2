// Registry pulls through the real CLI and daemon: login (password on stdin, stored encrypted),
// ls without passwords, `image pull` with per-layer progress from a basic-auth docker-registry
// on 127.0.0.1 (allowed with WARREN_REGISTRY_ALLOW), logout, and a refused internal address.
// The daemon gets a private image store, so nothing pulled lands in the shared test cache.
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { type Harness, makeHarness } from "@warren/testing/e2e-harness";
import { twoLayerLayout } from "@warren/testing/oci-layout";
import { pushLayout, startRegistry, type TestRegistry } from "@warren/testing/registry";

const PASSWORD = "e2e-pass-Zq81";

describe("registry pulls (e2e)", { timeout: 300_000 }, () => {
  let h: Harness;
  let reg: TestRegistry;
  before(async () => {
    h = await makeHarness("registry");
    reg = await startRegistry({ auth: { kind: "basic", user: "dev", password: PASSWORD } });
    const fx = await twoLayerLayout(path.join(h.root, "layout"));
    await pushLayout(reg, fx.builder.dir, "test/two:1", "team/two:1", { creds: `dev:${PASSWORD}` });
    await h.startDaemon({ WARREN_IMAGES: path.join(h.root, "images"), WARREN_REGISTRY_ALLOW: "127.0.0.1" });
  });
  after(async () => {
    await reg?.stop();
    await h?.teardown();
  });

  it("login, ls, pull with progress, image ls, logout", async () => {
    const ref = `${reg.host}/team/two:1`;
    const denied = h.cli(["image", "pull", ref]);
    assert.equal(denied.status, 1, denied.stderr);
    assert.match(denied.stderr, new RegExp(`warren registry login ${reg.host}`));

    const login = h.cli(["registry", "login", reg.host, "-u", "dev", "--password-stdin"], {
      input: `${PASSWORD}\n`,
    });
    assert.equal(login.status, 0, login.stderr);
    const ls = h.cli(["registry", "ls", "--json"]);
    assert.equal(ls.status, 0, ls.stderr);
    assert.deepEqual(
      JSON.parse(ls.stdout).map((l: { host: string; username: string }) => [l.host, l.username]),
      [[reg.host, "dev"]],
    );
    assert.doesNotMatch(ls.stdout + h.cli(["registry", "ls"]).stdout, new RegExp(PASSWORD));

    const pulled = h.cli(["image", "pull", ref, "--json"]);
    assert.equal(pulled.status, 0, pulled.stderr);
    assert.equal(JSON.parse(pulled.stdout).ref, ref);
    assert.match(pulled.stderr, /layer: layer 1\/2 .*(downloading|unpack)/);
    const images = JSON.parse(h.cli(["image", "ls", "--json"]).stdout) as { ref: string }[];
    assert.ok(images.some((i) => i.ref === ref));
    const log = await fs.readFile(path.join(h.root, "daemon.log"), "utf8").catch(() => "");
    assert.doesNotMatch(log, new RegExp(PASSWORD), "the password is never logged");

    const out = h.cli(["registry", "logout", reg.host]);
    assert.equal(out.status, 0, out.stderr);
    assert.match(out.stdout, /removed/);
    assert.deepEqual(JSON.parse(h.cli(["registry", "ls", "--json"]).stdout), []);
  });

  it("a registry on a refused address names the allow-list", () => {
    const r = h.cli(["image", "pull", `127.0.0.2:${reg.port}/team/two:1`]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /WARREN_REGISTRY_ALLOW=/);
  });
});
