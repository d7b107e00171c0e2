// The real `warren` CLI, spawned as a process against a fake daemon on a temp unix socket:
// exit statuses, one-line user errors, exec passthrough, JSON shapes and table columns.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, beforeEach, describe, it } from "node:test";
import { ENV_STATES, type Environment } from "@warren/protocol";
import { type FakeDaemon, makeEnv, runCli, startFakeDaemon } from "./fake-daemon.ts";

let d: FakeDaemon;
const cli = (args: string[], input?: string) => runCli(args, { env: { WARREN_SOCKET: d.socket }, input });

before(async () => {
  d = await startFakeDaemon();
});
after(() => d.close());
beforeEach(() => {
  d.reset();
  d.envs.set("dev", makeEnv("dev"));
});

describe("read commands", () => {
  it("ls --json prints Environment[] with the state enum", async () => {
    d.envs.set("other", makeEnv("other", { state: "stopped", desired: "stopped" }));
    const r = await cli(["ls", "--json"]);
    assert.equal(r.status, 0, r.stderr);
    const envs = JSON.parse(r.stdout) as Environment[];
    assert.deepEqual(
      envs.map((e) => [e.name, e.state]),
      [
        ["dev", "running"],
        ["other", "stopped"],
      ],
    );
    for (const e of envs) assert.ok((ENV_STATES as readonly string[]).includes(e.state));
    assert.deepEqual(envs[0], JSON.parse(JSON.stringify(d.envs.get("dev"))));
  });

  it("ls prints the table columns", async () => {
    const r = await cli(["ls"]);
    assert.equal(r.status, 0, r.stderr);
    const [header, row, ...rest] = r.stdout.trimEnd().split("\n");
    assert.deepEqual(header!.split(/\s+/), [
      "NAME",
      "STATE",
      "CLASS",
      "IMAGE",
      "RUNTIME",
      "CPUS",
      "MEMORY",
      "DISK",
      "AGE",
      "LAST",
      "USED",
      "IDLE",
      "STOP",
    ]);
    assert.deepEqual(row!.split(/\s{2,}/), [
      "dev",
      "running",
      "default",
      "warren/debian:bookworm",
      "runc",
      "2",
      "2Gi",
      "10Gi",
      "5m ago",
      "-",
      "-",
    ]);
    assert.equal(rest.length, 0);
  });

  it("inspect prints JSON with --json and a human form without", async () => {
    d.envs.set(
      "dev",
      makeEnv("dev", {
        observed: {
          id: "x",
          state: "running",
          pid: 4242,
          uidRange: { start: 165536, size: 65536 },
          psi: { cpu: 0.5, memory: 0, io: null },
        },
      }),
    );
    const j = await cli(["inspect", "dev", "--json"]);
    assert.equal(j.status, 0, j.stderr);
    assert.equal((JSON.parse(j.stdout) as Environment).observed?.pid, 4242);
    const h = await cli(["inspect", "dev"]);
    assert.match(h.stdout, /^ {2}Init PID: +4242$/m);
    assert.match(h.stdout, /^ {2}UID range: 165536-231071 \(65536 ids\)$/m);
    assert.match(h.stdout, /^Resources: +2 cpus, 2Gi memory/m);
    // One value column for every "Label: value" line, top level and Host alike.
    const columns = new Set(
      h.stdout
        .split("\n")
        .map((l) => /^( *[A-Za-z][A-Za-z ]*: +)\S/.exec(l)?.[1]?.length)
        .filter((c) => c !== undefined),
    );
    assert.deepEqual([...columns], [13], h.stdout);
  });

  it("logs streams the daemon's text", async () => {
    const r = await cli(["logs", "dev", "-f", "-n", "10"]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, "init: hello\nevent: started\n");
    assert.equal(d.requests.at(-1)!.url, "/api/v1/environments/dev/logs?follow=1&tail=10");
  });

  it("version --json names the client and the daemon", async () => {
    const r = await cli(["version", "--json"]);
    assert.equal(r.status, 0, r.stderr);
    const v = JSON.parse(r.stdout);
    assert.equal(v.daemon, "fake");
    assert.match(v.client, /^\d+\.\d+\.\d+/);
  });
});

describe("exit statuses", () => {
  it("a user error is one line on stderr and exit 1", async () => {
    const r = await cli(["inspect", "nope"]);
    assert.equal(r.status, 1);
    assert.equal(r.stderr, "warren: no environment named nope\n");
    assert.equal(r.stdout, "");
  });

  it("a daemon bug (INTERNAL) exits 70", async () => {
    d.override.set("GET /api/v1/environments", (_b, res) => {
      res.writeHead(500, { "content-type": "application/json" });
      res.end(JSON.stringify({ code: "INTERNAL", message: "boom" }));
    });
    const r = await cli(["ls"]);
    assert.equal(r.status, 70);
    assert.match(r.stderr, /internal error.*boom/);
  });

  it("an unknown command or flag exits 1 with a usage hint", async () => {
    for (const args of [["frobnicate"], ["ls", "--bogus"], ["exec"]]) {
      const r = await cli(args);
      assert.equal(r.status, 1, args.join(" "));
      assert.match(r.stderr, /--help/);
    }
    assert.equal(d.requests.length, 0);
  });

  it("a bad size fails with exit 1 before any request", async () => {
    for (const args of [
      ["up", "--memory", "12parsecs", "--", "true"],
      ["up", "--disk", "-1g"],
      ["class", "create", "small", "--cpus", "1", "--memory", "1g", "--disk", "2x"],
    ]) {
      const r = await cli(args);
      assert.equal(r.status, 1, args.join(" "));
      assert.match(r.stderr, /^warren: invalid --(memory|disk) "[^"]+": use a number with a unit/);
      assert.equal(r.stderr.trimEnd().split("\n").length, 1);
    }
    assert.equal(d.requests.length, 0);
  });

  it("no daemon and no auto-start: exit 1 saying the daemon is not running", async () => {
    const r = await runCli(["ls"], { env: { WARREN_SOCKET: join(d.dir, "absent.sock") } });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^warren: the Warren daemon is not running/);
  });

  it("the default socket is root-only: a non-root caller is told to use sudo", async () => {
    const env = { WARREN_SOCKET: undefined };
    // As root, drop to nobody for this one run; as non-root, the check applies as it is.
    const uid = process.getuid?.() === 0 ? 65534 : undefined;
    const r = await runCli(["ls"], { env, uid });
    assert.equal(r.status, 1);
    assert.equal(r.stderr, "warren: the local daemon socket is root-only; run with sudo\n");
  });

  it("auto-start failure exits 1 and names the log", async () => {
    // WARREN_ROOT is a file, so the log can't be created: nothing is spawned.
    const file = join(d.dir, "not-a-dir");
    writeFileSync(file, "");
    const r = await runCli(["ls"], {
      env: { WARREN_SOCKET: join(d.dir, "absent.sock"), WARREN_ROOT: file, WARREN_NO_AUTOSTART: "" },
    });
    assert.equal(r.status, 1);
    assert.match(
      r.stderr,
      /^warren: the daemon is not running and its log .*not-a-dir\/daemon.log cannot be opened/,
    );
  });
});

describe("exec", () => {
  it("passes the command's exit status through", async () => {
    const r = await cli(["exec", "dev", "--", "exit", "7"]);
    assert.equal(r.status, 7);
    assert.equal(r.stderr, "");
  });

  it("keeps stdout and stderr apart and starts in the workspace", async () => {
    const r = await cli(["exec", "dev", "--", "echo", "hi", "there"]);
    assert.equal(r.status, 0);
    assert.equal(r.stdout, "hi there\n");
    assert.equal(r.stderr, "to stderr\n");
    assert.equal(d.execs[0]!.query.get("cwd"), null, "without -w the control plane picks the folder");
    assert.equal(d.execs[0]!.query.get("tty"), "0");
  });

  it("pipes stdin and sends eof when it ends", async () => {
    const r = await cli(["exec", "dev", "--", "cat"], "line one\nline two\n");
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, "line one\nline two\n");
    assert.deepEqual(d.execs[0]!.controls, [{ type: "eof" }]);
  });

  it("Warren's own failure inside exec exits 125 with the message", async () => {
    const r = await cli(["exec", "dev", "--", "fail"]);
    assert.equal(r.status, 125);
    assert.equal(r.stderr, "warren: environment is stopping\n");
  });

  it("an unknown environment inside exec exits 125", async () => {
    const r = await cli(["exec", "ghost", "--", "true"]);
    assert.equal(r.status, 125);
    assert.equal(r.stderr, "warren: no environment named ghost\n");
  });
});

describe("up", () => {
  it("builds the missing base image with progress, then creates and prints JSON", async () => {
    const r = await cli(["up", "--name", "fresh", "--memory", "512m", "--detach", "--json"]);
    assert.equal(r.status, 0, r.stderr);
    const env = JSON.parse(r.stdout) as Environment;
    assert.equal(env.name, "fresh");
    assert.equal(env.spec.resources.memoryBytes, 512 * 1024 ** 2);
    assert.deepEqual(
      d.requests.map((q) => `${q.method} ${q.url}`),
      [
        "GET /api/v1/health",
        "GET /api/v1/images",
        "POST /api/v1/images/base",
        "POST /api/v1/environments?wait=1",
      ],
    );
    // No TTY: plain progress lines, with bytes.
    assert.match(r.stderr, /^build: running mmdebstrap$/m);
    assert.match(r.stderr, /^layer: packing 1Mi\/4Mi \(25%\)$/m);
  });

  it("skips the build when the image exists and is idempotent for an existing environment", async () => {
    d.images.push({
      ref: "warren/debian:bookworm",
      digest: "sha256:1",
      layers: [],
      sizeBytes: 1,
      createdAt: "",
    });
    const r = await cli(["up", "--name", "dev", "--detach"]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /using existing environment dev/);
    assert.match(r.stdout, /^NAME\s+STATE/);
    assert.ok(!d.requests.some((q) => q.url.includes("/images/base")));
  });

  it("with -- CMD runs it and passes its status through", async () => {
    const r = await cli(["up", "--name", "dev", "--image", "other:1", "--", "exit", "3"]);
    assert.equal(r.status, 3, r.stderr);
    assert.equal(JSON.parse(d.requests.find((q) => q.method === "POST")!.body).image, "other:1");
  });

  it("a create failure exits 125 with a command, 1 without", async () => {
    d.override.set("POST /api/v1/environments", (_b, res) => {
      res.writeHead(400, { "content-type": "application/json" });
      res.end(
        JSON.stringify({ code: "OUT_OF_CLASS_BOUNDS", message: "cpus 64 is above the class maximum 4" }),
      );
    });
    const withCmd = await cli(["up", "--image", "x:1", "--cpus", "64", "--", "true"]);
    assert.equal(withCmd.status, 125);
    assert.equal(withCmd.stderr, "warren: cpus 64 is above the class maximum 4\n");
    const detached = await cli(["up", "--image", "x:1", "--cpus", "64", "--detach"]);
    assert.equal(detached.status, 1);
  });

  it("a failed environment is reported as a user error", async () => {
    d.override.set("POST /api/v1/environments", (_b, res) => {
      const env = makeEnv("bad", {
        state: "failed",
        conditions: [
          { type: "Failed", status: "True", reason: "RuntimeError", message: "runc exited 1", at: "" },
        ],
      });
      res.writeHead(201, { "content-type": "application/json" });
      res.end(JSON.stringify(env));
    });
    const r = await cli(["up", "--name", "bad", "--image", "x:1", "--detach"]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /environment bad failed: RuntimeError: runc exited 1/);
  });
});

describe("classes and images", () => {
  it("class create sends the parsed request; class ls --json shows it", async () => {
    const r = await cli([
      "class",
      "create",
      "big",
      "--cpus",
      "4",
      "--memory",
      "8g",
      "--disk",
      "50Gi",
      "--max-cpus",
      "8",
    ]);
    assert.equal(r.status, 0, r.stderr);
    const body = JSON.parse(d.requests.at(-1)!.body);
    assert.deepEqual(body, { name: "big", cpus: 4, memory: "8g", disk: "50Gi", maxCpus: 8 });
    const ls = await cli(["class", "ls", "--json"]);
    assert.equal(JSON.parse(ls.stdout)[0].memoryBytes, 8 * 1024 ** 3);
  });

  it("image import sends an absolute path and prints the image", async () => {
    const r = await runCli(["image", "import", "some/dir", "--ref", "me/img:1", "--json"], {
      env: { WARREN_SOCKET: d.socket },
    });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).ref, "me/img:1");
    assert.equal(JSON.parse(d.requests.at(-1)!.body).path, join(process.cwd(), "some/dir"));
    const ls = await cli(["image", "ls"]);
    assert.match(
      ls.stdout,
      /^REF\s+DIGEST\s+SIZE\s+LAYERS\s+AGE\s+LAST USED\nme\/img:1\s+0123456789ab\s+4Mi\s+1\s+\d+s ago\s+never\n$/,
    );
  });
});
