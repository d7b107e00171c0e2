// `warren secret set` checks what it can before reading the value or sending anything: one of
// --env or --file, a name fit for the kind, and a file path outside the kernel's and Warren's
// own; and it sends a path such as /etc/app/app.conf with a dashed name as it is.
import assert from "node:assert/strict";
import { after, before, beforeEach, describe, it } from "node:test";
import { type FakeDaemon, runCli, startFakeDaemon } from "./fake-daemon.ts";

let d: FakeDaemon;
const cli = (args: string[], input?: string) =>
  runCli(args, { env: { WARREN_SOCKET: d.socket }, ...(input !== undefined ? { input } : {}) });

before(async () => {
  d = await startFakeDaemon();
});
after(() => d.close());
beforeEach(() => {
  d.reset();
  d.override.set("PUT /api/v1/secrets/user/app-config", (body, res) => {
    const req = JSON.parse(body) as { kind: string; path?: string };
    res.writeHead(200, { "content-type": "application/json" });
    res.end(
      JSON.stringify({
        name: "app-config",
        scope: "user",
        kind: req.kind,
        path: req.path,
        createdAt: "2026-01-01T00:00:00Z",
        updatedAt: "2026-01-01T00:00:00Z",
      }),
    );
  });
});

const puts = () => d.requests.filter((r) => r.method === "PUT");

describe("secret set", () => {
  it("says to pick one of --env or --file when given both, before any request", async () => {
    const r = await cli(["secret", "set", "KEY", "--env", "--file", "--value-stdin"], "v\n");
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /pick one of --env .* or --file/);
    assert.doesNotMatch(r.stderr, /say how to deliver/);
    const none = await cli(["secret", "set", "KEY", "--value-stdin"], "v\n");
    assert.equal(none.status, 1);
    assert.match(none.stderr, /say how to deliver it: --env or --file/);
    assert.deepEqual(puts(), []);
  });

  it("sends a file secret with a dashed name to a path outside /run/secrets", async () => {
    const r = await cli(
      ["secret", "set", "app-config", "--file", "/etc/app/app.conf", "--value-stdin"],
      "cfg-value\n",
    );
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(puts()[0]!.body), {
      value: "cfg-value",
      kind: "file",
      path: "/etc/app/app.conf",
    });
    assert.match(r.stdout, /stored user secret app-config \(file \/etc\/app\/app\.conf\)/);
  });

  it("refuses a path of the kernel or Warren, and a dashed variable name, saying why", async () => {
    const cases: [string[], RegExp][] = [
      [["app-config", "--file", "/proc/self/environ"], /\/proc belongs to the kernel/],
      [["app-config", "--file", "/workspaces/dev/.env"], /\/workspaces belongs to Warren/],
      [["app-config", "--file", "etc/app.conf"], /must be absolute/],
      [["app-config", "--env"], /shell variable name.*--file/],
    ];
    for (const [args, why] of cases) {
      const r = await cli(["secret", "set", ...args, "--value-stdin"], "v\n");
      assert.equal(r.status, 1, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, why);
    }
    assert.deepEqual(puts(), []);
  });
});
