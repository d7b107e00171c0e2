// `exec -t` and `shell` in a real pseudo-terminal (node-pty): raw mode, the initial size, resizes
// forwarded as control frames, and the terminal restored after the command exits.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { spawn as ptySpawn } from "node-pty";
import { type FakeDaemon, MAIN, makeEnv, startFakeDaemon } from "./fake-daemon.ts";

let d: FakeDaemon;
before(async () => {
  d = await startFakeDaemon();
  d.envs.set("dev", makeEnv("dev"));
});
after(() => d.close());

function inPty(script: string) {
  const p = ptySpawn("/bin/sh", ["-c", script], {
    cols: 90,
    rows: 20,
    env: { ...process.env, WARREN_SOCKET: d.socket, WARREN_NO_AUTOSTART: "1", TERM: "xterm-test" },
  });
  let out = "";
  const waiters: { re: RegExp; resolve: () => void }[] = [];
  p.onData((s) => {
    out += s;
    for (const w of waiters.splice(0)) {
      if (w.re.test(out)) w.resolve();
      else waiters.push(w);
    }
  });
  const exited = new Promise<number>((r) => p.onExit((e) => r(e.exitCode)));
  const waitFor = (re: RegExp) =>
    new Promise<void>((resolve, reject) => {
      if (re.test(out)) return resolve();
      const t = setTimeout(
        () => reject(new Error(`timed out waiting for ${re}; output so far:\n${out}`)),
        10_000,
      );
      waiters.push({
        re,
        resolve: () => {
          clearTimeout(t);
          resolve();
        },
      });
    });
  return { p, waitFor, exited, output: () => out };
}

describe("exec -t", () => {
  it("runs raw, follows resizes, passes the status and restores the terminal", async () => {
    const cli = `'${process.execPath}' '${MAIN}'`;
    const t = inPty(`${cli} exec -t dev -- probe; echo "status=$?"; stty -a`);
    await t.waitFor(/size 90x20/);
    // Raw mode: a single key reaches the command at once, without Enter.
    t.p.write("x");
    await t.waitFor(/got:"x"/);
    t.p.resize(100, 30);
    await t.waitFor(/resize 100x30/);
    t.p.write("q");
    await t.waitFor(/status=5/);
    assert.equal(await t.exited, 0);
    const after = t.output().slice(t.output().indexOf("status=5"));
    assert.match(after, /(^|\s)icanon/, "canonical mode is back after exit");
    assert.match(after, /(^|\s)echo(\s|$)/, "echo is back after exit");
    const exec = d.execs.at(-1)!;
    assert.equal(exec.query.get("tty"), "1");
    assert.deepEqual(JSON.parse(exec.query.get("env")!), { TERM: "xterm-test" });
  });
});

describe("shell", () => {
  it("opens a login shell with a tty in the workspace", async () => {
    const t = inPty(`'${process.execPath}' '${MAIN}' shell dev`);
    // The fake has no shell: it answers unknown programs with 127, which passes through.
    assert.equal(await t.exited, 127);
    const exec = d.execs.at(-1)!;
    assert.deepEqual(JSON.parse(exec.query.get("cmd")!), [
      "/bin/sh",
      "-c",
      "command -v bash >/dev/null && exec bash -l || exec sh -l",
    ]);
    assert.equal(exec.query.get("cwd"), null, "without -w the control plane picks the folder");
    assert.equal(exec.query.get("tty"), "1");
    assert.equal(exec.query.get("cols"), "90");
  });
});

describe("up on a terminal", () => {
  it("builds the base image with a rewriting status line, then opens a shell", async () => {
    d.images.length = 0;
    const t = inPty(`'${process.execPath}' '${MAIN}' up --name dev`);
    assert.equal(await t.exited, 127); // the fake's answer to the shell command
    const out = t.output();
    assert.match(out, /\r\x1b\[Kbuild: running mmdebstrap\r?\n\r\x1b\[Klayer: packing 1Mi\/4Mi \(25%\)/);
    assert.match(out, /using existing environment dev/);
    const exec = d.execs.at(-1)!;
    assert.equal(exec.query.get("tty"), "1");
    assert.equal(exec.query.get("cwd"), null, "without -w the control plane picks the folder");
  });
});
