// `warren exec` and `warren shell` options against a fake daemon: -i, -u, -w, -e reach the
// request; bad ones are refused with exit 125 before anything is sent; -t (and shell) without a
// terminal on stdin warn and run without one, and end of input reaches the command.
import assert from "node:assert/strict";
import { after, before, beforeEach, describe, it } from "node:test";
import { type FakeDaemon, makeEnv, runCli, startFakeDaemon } from "./fake-daemon.ts";

let d: FakeDaemon;
const cli = (args: string[], input?: string) =>
  runCli(args, { env: { WARREN_SOCKET: d.socket, TERM: "xterm-test" }, input });

before(async () => {
  d = await startFakeDaemon();
});
after(() => d.close());
beforeEach(() => {
  d.reset();
  d.envs.set("dev", makeEnv("dev"));
});

const NO_TERMINAL = "warren: the input is not a terminal, so the command runs without one\n";

describe("exec options", () => {
  it("-i, -u, -w and repeated -e reach the request", async () => {
    const r = await cli(
      [
        "exec",
        "-i",
        "-u",
        "dev:staff",
        "-w",
        "/srv/app",
        "-e",
        "A=1",
        "-e",
        "B=x=y",
        "-e",
        "C=",
        "dev",
        "--",
      ].concat(["echo", "hi"]),
    );
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, "hi\n");
    const q = d.execs[0]!.query;
    assert.equal(q.get("user"), "dev:staff");
    assert.equal(q.get("cwd"), "/srv/app");
    assert.deepEqual(JSON.parse(q.get("env")!), { A: "1", B: "x=y", C: "" });
    assert.deepEqual(JSON.parse(q.get("cmd")!), ["echo", "hi"]);
  });

  it("without options: no user (the environment's own), the workspace, no variables", async () => {
    const r = await cli(["exec", "dev", "--", "echo"]);
    assert.equal(r.status, 0, r.stderr);
    const q = d.execs[0]!.query;
    assert.equal(q.get("user"), null);
    assert.equal(q.get("cwd"), null, "without -w the control plane picks the folder");
    assert.equal(q.get("env"), null);
  });

  for (const [args, message] of [
    [["-e", "1A=x"], /invalid variable "1A=x": use -e NAME=VALUE/],
    [["-w", "relative/dir"], /invalid working directory "relative\/dir": give an absolute path/],
    [["-u", "a b"], /invalid user "a b": the user must be a name .* or a number/],
    [["-u", "70000"], /a number from 0 to 65535/],
  ] as const) {
    it(`refuses ${args.join(" ")} with 125 before anything is sent`, async () => {
      const r = await cli(["exec", ...args, "dev", "--", "true"]);
      assert.equal(r.status, 125);
      assert.match(r.stderr, message);
      assert.equal(r.stderr.split("\n").length, 2, "one line");
      assert.equal(d.execs.length, 0);
    });
  }
});

describe("without a terminal on stdin", () => {
  it("exec -t warns, runs without one, and end of input reaches the command", async () => {
    const r = await cli(["exec", "-t", "dev", "--", "cat"], "abc\n");
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, "abc\n", "the input once: no terminal echo, no stray bytes");
    assert.equal(r.stderr, NO_TERMINAL);
    const exec = d.execs[0]!;
    assert.equal(exec.query.get("tty"), "0");
    assert.deepEqual(exec.controls, [{ type: "eof" }]);
  });

  it("shell takes -u and -w, warns, and runs without one", async () => {
    const r = await cli(["shell", "-u", "1000", "-w", "/tmp", "dev"]);
    assert.equal(r.status, 127, "the fake's answer to the shell command");
    assert.equal(r.stderr, NO_TERMINAL);
    const q = d.execs[0]!.query;
    assert.equal(q.get("tty"), "0");
    assert.equal(q.get("user"), "1000");
    assert.equal(q.get("cwd"), "/tmp");
  });
});
