// `warren secret set --allow` sends the allow list (or null for `any`) and refuses it off project
// scope before any request; `warren audit ls` prints control characters in records escaped, so a
// record cannot rewrite the admin's terminal.
import assert from "node:assert/strict";
import { after, before, beforeEach, describe, it } from "node:test";
import { type FakeDaemon, runCli, startFakeDaemon } from "./fake-daemon.ts";

let d: FakeDaemon;
const cli = (args: string[], input?: string) =>
  runCli(args, { env: { WARREN_SOCKET: d.socket }, ...(input !== undefined ? { input } : {}) });
const PROJECT = "https://github.com/acme/api";

before(async () => {
  d = await startFakeDaemon();
});
after(() => d.close());
beforeEach(() => {
  d.reset();
  d.override.set("PUT /api/v1/secrets/project/KEY", (body, res) => {
    const req = JSON.parse(body) as { kind: string; allow?: string[] | null };
    res.writeHead(200, { "content-type": "application/json" });
    res.end(
      JSON.stringify({
        name: "KEY",
        scope: "project",
        kind: req.kind,
        project: PROJECT,
        ...(req.allow ? { allow: req.allow } : {}),
        createdAt: "2026-01-01T00:00:00Z",
        updatedAt: "2026-01-01T00:00:00Z",
      }),
    );
  });
});

const sent = () =>
  d.requests
    .filter((r) => r.method === "PUT")
    .map((r) => JSON.parse(r.body) as { allow?: unknown; value: string });

describe("secret set --allow", () => {
  it("sends repeated and comma-separated entries, and says who gets it", async () => {
    const base = [
      "secret",
      "set",
      "KEY",
      "--env",
      "--scope",
      "project",
      "--project",
      PROJECT,
      "--value-stdin",
    ];
    const r = await cli([...base, "--allow", "user:alice,role:admin", "--allow", "user:bob"], "v-1234\n");
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(sent()[0]?.allow, ["user:alice", "role:admin", "user:bob"]);
    assert.match(r.stdout, /only for user:alice, role:admin, user:bob/);
    const lifted = await cli([...base, "--allow", "any"], "v-1234\n");
    assert.equal(lifted.status, 0, lifted.stderr);
    assert.equal(sent()[1]?.allow, null);
    const unchanged = await cli(base, "v-1234\n");
    assert.equal(unchanged.status, 0, unchanged.stderr);
    assert.equal("allow" in (sent()[2] ?? {}), false, "no --allow: the restriction is left as it is");
  });

  it("refuses --allow off project scope, and a malformed entry, before any request", async () => {
    for (const args of [
      ["secret", "set", "KEY", "--env", "--scope", "org", "--allow", "role:admin", "--value-stdin"],
      [
        "secret",
        "set",
        "KEY",
        "--env",
        "--scope",
        "project",
        "--project",
        PROJECT,
        "--allow",
        "admins",
        "--value-stdin",
      ],
    ]) {
      const r = await cli(args, "v-1234\n");
      assert.equal(r.status, 1, r.stdout);
      assert.match(r.stderr, /--allow/);
    }
    assert.equal(sent().length, 0);
  });
});

describe("audit ls", () => {
  it("prints control characters escaped", async () => {
    d.override.set("GET /api/v1/audit", (_body, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(
        JSON.stringify({
          items: [
            {
              id: 1,
              orgId: "org_default",
              actor: "runner:tok_1",
              action: "runner.protocol-violation",
              target: "\x1b[2J\x1b[31mfake\r\nrow\u202e",
              sourceAddress: "192.0.2.1",
              result: "denied",
              at: "2026-01-01T00:00:00Z",
            },
          ],
        }),
      );
    });
    const r = await cli(["audit", "ls"]);
    assert.equal(r.status, 0, r.stderr);
    assert.ok(
      !/[\x00-\x08\x0b-\x1f\x7f\u202e]/.test(r.stdout.replaceAll("\n", "")),
      JSON.stringify(r.stdout),
    );
    assert.match(r.stdout, /\\x1b\[2J\\x1b\[31mfake\\x0d\\x0arow\\u\{202e\}/);
    assert.equal(r.stdout.trimEnd().split("\n").length, 2, "a header and one row");
  });
});
