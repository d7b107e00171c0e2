// `warren port ls | set | open` and `warren quota set --public-ports` from the real CLI: ls and set
// against the real control plane in this process (ports detected by its fake runner), open against
// the fake daemon's sign-in link (the link itself is the control plane's port sign-in), with a
// stand-in xdg-open that records what it was asked to open.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import type { EnvPort, EnvPortList } from "@warren/protocol";
import { type InprocDaemon, startInprocDaemon } from "@warren/testing/inproc-daemon";
import { ROOT, tempDir } from "@warren/testing/server-harness";
import { type FakeDaemon, runCli, startFakeDaemon } from "./fake-daemon.ts";

let d: InprocDaemon;
let fake: FakeDaemon;
const tmp = tempDir("warren-port-cli-");
before(async () => {
  d = await startInprocDaemon();
  fake = await startFakeDaemon();
  const { env } = await d.h.envs.create(ROOT, { name: "web" });
  d.h.runner.ports.set(env.id, [
    { port: 3000, address: "0.0.0.0", family: 4, process: "node" },
    { port: 3000, address: "::", family: 6, process: "node" },
    // A name the environment chose: it must not reach the terminal as an escape sequence.
    { port: 8081, address: "127.0.0.1", family: 4, process: "\u001b[2Jevil" },
  ]);
});
after(async () => {
  await d?.close();
  await fake?.close();
  tmp.cleanup();
});

const cli = (args: string[], env: NodeJS.ProcessEnv = {}) =>
  runCli(args, { env: { WARREN_SOCKET: d.socket, ...env } });

describe("warren port", () => {
  it("ls prints the detected ports as a table, private by default", async () => {
    const r = await cli(["port", "ls", "web"]);
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.trimEnd().split("\n");
    assert.match(lines[0]!, /^PORT\s+ADDRESS\s+PROCESS\s+VISIBILITY\s+URL$/);
    assert.match(lines[1]!, /^3000\s+0\.0\.0\.0,::\s+node\s+private\s+-$/);
    assert.match(lines[2]!, /^8081\s+127\.0\.0\.1\s+\\x1b\[2Jevil\s+private\s+-$/);
    assert.ok(!r.stdout.includes("\u001b"), "no raw escape reaches the terminal");
  });

  it("ls --json prints the EnvPortList", async () => {
    const r = await cli(["port", "ls", "web", "--json"]);
    assert.equal(r.status, 0, r.stderr);
    const l = JSON.parse(r.stdout) as EnvPortList;
    assert.equal(l.running, true);
    assert.equal(l.publicPorts, "deny");
    assert.deepEqual(
      l.items.map((i) => [i.port, i.listening, i.visibility]),
      [
        [3000, true, "private"],
        [8081, true, "private"],
      ],
    );
  });

  it("set changes the visibility and says who may reach it; ls shows it", async () => {
    const r = await cli(["port", "set", "web", "3000", "--visibility", "org"]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^web:3000 is org: members of the organisation$/m);
    // This in-process control plane runs no proxy, and the CLI says so rather than print nothing.
    assert.match(r.stdout, /no port proxy/);
    const j = await cli(["port", "set", "web", "4000", "--visibility", "org", "--json"]);
    assert.equal((JSON.parse(j.stdout) as EnvPort).listening, false);
    const ls = await cli(["port", "ls", "web"]);
    assert.match(ls.stdout, /^3000\s+\S+\s+node\s+org\s+-$/m);
    assert.match(ls.stdout, /^4000\s+-\s+-\s+org\s+-$/m);
  });

  it("set public is refused under the default policy, and allowed after quota set --public-ports allow", async () => {
    const refused = await cli(["port", "set", "web", "3000", "--visibility", "public"]);
    assert.equal(refused.status, 1);
    assert.match(refused.stderr, /does not allow public ports/);
    assert.match(refused.stderr, /warren quota set --public-ports allow/);

    const allow = await cli(["quota", "set", "--public-ports", "allow"]);
    assert.equal(allow.status, 0, allow.stderr);
    assert.match(allow.stdout, /^public ports\s+allow/m);
    const ok = await cli(["port", "set", "web", "3000", "--visibility", "public"]);
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /^web:3000 is public: anyone$/m);

    const deny = await cli(["quota", "set", "--public-ports", "deny", "--json"]);
    assert.equal(JSON.parse(deny.stdout).quotas.publicPorts, "deny");
    const bad = await cli(["quota", "set", "--public-ports", "sometimes"]);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /--public-ports must be allow or deny/);
  });

  it("bad arguments are refused before anything is sent, saying what to give", async () => {
    const cases: [string[], RegExp][] = [
      [["port", "set", "web", "3000", "--visibility", "everyone"], /use private, org or public/],
      [["port", "set", "web", "3000"], /give --visibility private, org or public/],
      [["port", "set", "web", "70000", "--visibility", "org"], /a TCP port is a number from 1 to 65535/],
    ];
    for (const [args, msg] of cases) {
      const before = (await d.auditRecords()).length;
      const r = await cli(args);
      assert.equal(r.status, 1, args.join(" "));
      assert.match(r.stderr, msg, args.join(" "));
      assert.equal((await d.auditRecords()).length, before, `${args.join(" ")}: nothing was sent`);
    }
  });

  it("an environment the caller cannot see is not found", async () => {
    const r = await cli(["port", "ls", "nope"]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /environment "nope" does not exist/);
  });
});

describe("warren port open", () => {
  const link = "http://3000--web--default.localhost:8080/__warren/auth?code=c0de";
  before(() => {
    fake.override.set("POST /api/v1/environments/web/ports/3000/signin-link", (_b, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ url: link, expiresAt: new Date(Date.now() + 60_000).toISOString() }));
    });
  });
  const open = (args: string[], env: NodeJS.ProcessEnv) =>
    runCli(["port", "open", "web", "3000", ...args], { env: { WARREN_SOCKET: fake.socket, ...env } });

  it("--print prints the sign-in link from the control plane", async () => {
    const r = await open(["--print"], { DISPLAY: ":0" });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, `${link}\n`);
    assert.equal(fake.requests.at(-1)?.url, "/api/v1/environments/web/ports/3000/signin-link");
  });

  it("without a browser it prints the link and says it works once", async () => {
    const r = await open([], { DISPLAY: undefined, WAYLAND_DISPLAY: undefined });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, `${link}\n`);
    assert.match(r.stderr, /works once/);
  });

  it("with a browser it hands the link to xdg-open and prints nothing on stdout", async () => {
    const bin = path.join(tmp.dir, "bin");
    const opened = path.join(tmp.dir, "opened");
    fs.mkdirSync(bin, { recursive: true });
    fs.writeFileSync(path.join(bin, "xdg-open"), `#!/bin/sh\nprintf '%s' "$1" > '${opened}'\n`, {
      mode: 0o755,
    });
    const r = await open([], { DISPLAY: ":0", PATH: `${bin}:${process.env["PATH"]}` });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, "");
    assert.match(r.stderr, /opened web:3000 in your browser/);
    // xdg-open runs detached: wait for it to write.
    for (let i = 0; i < 100 && !fs.existsSync(opened); i++) await new Promise((res) => setTimeout(res, 20));
    assert.equal(fs.readFileSync(opened, "utf8"), link);
  });
});
