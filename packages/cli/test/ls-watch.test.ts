// `warren ls --watch` against the fake daemon: the table from the stream's initial list, then one
// line per change; with --json one event per line. The fake ends the stream, which ends the command.
import assert from "node:assert/strict";
import type { ServerResponse } from "node:http";
import { after, before, describe, it } from "node:test";
import type { WatchEvent } from "@warren/protocol";
import { type FakeDaemon, makeEnv, runCli, startFakeDaemon } from "./fake-daemon.ts";

let d: FakeDaemon;
const cli = (args: string[]) => runCli(args, { env: { WARREN_SOCKET: d.socket } });

before(async () => {
  d = await startFakeDaemon();
  const dev = makeEnv("dev");
  const web = makeEnv("web");
  const events: WatchEvent[] = [
    { type: "ADDED", resourceVersion: 4, object: dev },
    { type: "BOOKMARK", resourceVersion: 4 },
    { type: "ADDED", resourceVersion: 5, object: web },
    { type: "MODIFIED", resourceVersion: 6, object: { ...web, state: "stopped", desired: "stopped" } },
    { type: "DELETED", resourceVersion: 7, object: { ...web, state: "stopped", desired: "deleted" } },
  ];
  d.override.set("GET /api/v1/environments", (_body: string, res: ServerResponse) => {
    res.writeHead(200, { "content-type": "text/event-stream" });
    res.write(": hello\n\n");
    for (const e of events)
      res.write(`event: ${e.type}\nid: ${e.resourceVersion}\ndata: ${JSON.stringify(e)}\n\n`);
    res.end();
  });
});
after(() => d.close());

describe("ls --watch", () => {
  it("prints the table, then one line per change", async () => {
    const r = await cli(["ls", "--watch"]);
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.trimEnd().split("\n");
    assert.match(lines[0]!, /^NAME\s+STATE/);
    assert.match(lines[1]!, /^dev\s+running/);
    assert.deepEqual(
      lines.slice(2).map((l) => l.split(/\s+/).slice(0, 3)),
      [
        ["ADDED", "web", "running"],
        ["MODIFIED", "web", "stopped"],
        ["DELETED", "web", "stopped"],
      ],
    );
    assert.ok(d.requests.some((q) => q.url.includes("watch=1")));
  });

  it("--json prints one event per line", async () => {
    const r = await cli(["ls", "--watch", "--json"]);
    assert.equal(r.status, 0, r.stderr);
    const events = r.stdout
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l) as WatchEvent);
    assert.deepEqual(
      events.map((e) => [e.type, e.resourceVersion, e.object?.name]),
      [
        ["ADDED", 4, "dev"],
        ["BOOKMARK", 4, undefined],
        ["ADDED", 5, "web"],
        ["MODIFIED", 6, "web"],
        ["DELETED", 7, "web"],
      ],
    );
  });
});
