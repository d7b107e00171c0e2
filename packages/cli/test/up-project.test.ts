// `warren up --project URL`: the URL is checked and normalized before anything is sent (a bad one
// exits 1 without a request), reaches the daemon as CreateEnvRequest.project, and shows in
// `inspect` and `ls --json`.
import assert from "node:assert/strict";
import { after, before, beforeEach, describe, it } from "node:test";
import type { Environment } from "@warren/protocol";
import { describeEnv } from "../src/commands/inspect.ts";
import { type FakeDaemon, makeEnv, runCli, startFakeDaemon } from "./fake-daemon.ts";

let d: FakeDaemon;
const cli = (args: string[]) => runCli(args, { env: { WARREN_SOCKET: d.socket } });
const API = "https://github.com/acme/api";

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
  // The daemon stores what it was sent, as the real one does (after its own normalization).
  d.override.set("POST /api/v1/environments", (body, res) => {
    const req = JSON.parse(body) as { name: string; project?: string };
    const env = makeEnv(req.name);
    if (req.project !== undefined) env.spec.project = req.project;
    d.envs.set(req.name, env);
    res.writeHead(201, { "content-type": "application/json" });
    res.end(JSON.stringify(env));
  });
});

describe("up --project", () => {
  it("sends the normalized repository URL and prints it with --json", async () => {
    const r = await cli([
      "up",
      "--name",
      "api",
      "--project",
      "git@github.com:acme/api.git",
      "--detach",
      "--json",
    ]);
    assert.equal(r.status, 0, r.stderr);
    const post = d.requests.find((q) => q.method === "POST" && q.url.startsWith("/api/v1/environments"));
    assert.ok(post);
    assert.equal(JSON.parse(post.body).project, API);
    assert.equal((JSON.parse(r.stdout) as Environment).spec.project, API);

    const ls = await cli(["ls", "--json"]);
    assert.equal(ls.status, 0, ls.stderr);
    assert.deepEqual(
      (JSON.parse(ls.stdout) as Environment[]).map((e) => [e.name, e.spec.project]),
      [["api", API]],
    );
  });

  it("without --project sends none", async () => {
    const r = await cli(["up", "--name", "plain", "--detach", "--json"]);
    assert.equal(r.status, 0, r.stderr);
    const post = d.requests.find((q) => q.method === "POST");
    assert.equal("project" in JSON.parse(post!.body), false);
  });

  it("a bad URL exits 1 with one line naming the project, before any request", async () => {
    for (const bad of ["file:///srv/api", "https://tok@github.com/acme/api", "../api"]) {
      const r = await cli(["up", "--name", "x", "--project", bad, "--detach"]);
      assert.equal(r.status, 1, bad);
      assert.match(r.stderr, /^warren: invalid project /);
      assert.equal(r.stderr.trimEnd().split("\n").length, 1);
    }
    assert.equal(d.requests.length, 0);
  });

  it("inspect shows the project only when there is one", () => {
    const env = makeEnv("api");
    assert.doesNotMatch(describeEnv(env), /Project:/);
    env.spec.project = API;
    assert.match(describeEnv(env), new RegExp(`^Project: +${API}$`, "m"));
  });
});
