// `warren registry logout` of a host with no login exits 1, as `secret rm` of a missing secret
// does; a real logout exits 0.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type FakeDaemon, runCli, startFakeDaemon } from "./fake-daemon.ts";

let d: FakeDaemon;
before(async () => {
  d = await startFakeDaemon();
  for (const [host, removed] of [
    ["ghcr.io", true],
    ["nowhere.example", false],
  ] as const) {
    d.override.set(`DELETE /api/v1/registries/${host}`, (_body, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ removed }));
    });
  }
});
after(() => d.close());

describe("registry logout", () => {
  it("exits 1 for a host with no login, naming it and `registry ls`; 0 after a real logout", async () => {
    const env = { WARREN_SOCKET: d.socket };
    const missing = await runCli(["registry", "logout", "nowhere.example"], { env });
    assert.equal(missing.status, 1, missing.stderr);
    assert.match(missing.stderr, /not logged in to nowhere\.example; `warren registry ls`/);
    assert.equal(missing.stdout, "");
    const ok = await runCli(["registry", "logout", "ghcr.io"], { env });
    assert.equal(ok.status, 0, ok.stderr);
    assert.equal(ok.stdout, "removed the login for ghcr.io\n");
  });
});
