// `warren up --user NAME`: a bad name exits 1 before any request; a good one reaches the daemon
// as CreateEnvRequest.user and shows in `inspect` and `ls --json` (inspect --json prints the same object as ls --json).
import assert from "node:assert/strict";
import { after, before, beforeEach, describe, it } from "node:test";
import type { Environment } from "@warren/protocol";
import { describeEnv } from "../src/commands/inspect.ts";
import { type FakeDaemon, makeEnv, runCli, startFakeDaemon } from "./fake-daemon.ts";

let d: FakeDaemon;
const cli = (args: string[]) => runCli(args, { env: { WARREN_SOCKET: d.socket } });

before(async () => {
  d = await startFakeDaemon();
});
after(() => d.close());
beforeEach(() => {
  d.reset();
  d.images.push({
    ref: "warren/debian:bookworm",
    digest: "sha256:1",
    layers: [],
    sizeBytes: 1,
    createdAt: "",
  });
  // Stores what it was sent, defaulting to root as the real daemon does.
  d.override.set("POST /api/v1/environments", (body, res) => {
    const req = JSON.parse(body) as { name: string; user?: string };
    const env = makeEnv(req.name);
    env.spec.user = req.user ?? "root";
    d.envs.set(req.name, env);
    res.writeHead(201, { "content-type": "application/json" });
    res.end(JSON.stringify(env));
  });
});

describe("up --user", () => {
  it("sends the user and prints it with --json, in ls --json and in inspect", async () => {
    const r = await cli(["up", "--name", "api", "--user", "dev", "--detach", "--json"]);
    assert.equal(r.status, 0, r.stderr);
    const post = d.requests.find((q) => q.method === "POST" && q.url.startsWith("/api/v1/environments"));
    assert.equal(JSON.parse(post!.body).user, "dev");
    assert.equal((JSON.parse(r.stdout) as Environment).spec.user, "dev");

    const ls = await cli(["ls", "--json"]);
    assert.equal(ls.status, 0, ls.stderr);
    assert.deepEqual(
      (JSON.parse(ls.stdout) as Environment[]).map((e) => [e.name, e.spec.user]),
      [["api", "dev"]],
    );
    const inspect = await cli(["inspect", "api"]);
    assert.equal(inspect.status, 0, inspect.stderr);
    assert.match(inspect.stdout, /^User: +dev$/m);
  });

  it("without --user sends none, and inspect says root", async () => {
    const r = await cli(["up", "--name", "plain", "--detach", "--json"]);
    assert.equal(r.status, 0, r.stderr);
    const post = d.requests.find((q) => q.method === "POST");
    assert.equal("user" in JSON.parse(post!.body), false);
    assert.match(describeEnv(makeEnv("plain")), /^User: +root$/m);
  });

  it("a bad name exits 1 with one line saying what a name may hold, before any request", async () => {
    // Every spelling is in the protocol's and the server's tests; two show the CLI checks first.
    for (const bad of ["Dev", "root:root"]) {
      const r = await cli(["up", "--name", "x", "--user", bad, "--detach"]);
      assert.equal(r.status, 1, bad);
      assert.match(r.stderr, /^warren: invalid user .*a-z, 0-9, _ and -/);
      assert.equal(r.stderr.trimEnd().split("\n").length, 1);
    }
    assert.equal(d.requests.length, 0);
  });
});
