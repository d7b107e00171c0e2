// `warren exec` and `warren shell` as a developer uses them, on crun, runc and gVisor through the
// real CLI and daemon: a terminal that follows resizes (driven by node-pty, as a window would),
// end of input that reaches the command, no stray bytes, one exit-code rule (127 not found, 126
// not executable, 125 Warren's failure, else the command's own), and -u, -w, -e.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { type Harness, makeHarness, REPO } from "@warren/testing/e2e-harness";
import { spawn as ptySpawn } from "node-pty";

const MAIN = path.join(REPO, "packages/cli/src/main.ts");
const RUNTIMES = ["crun", "runc", "gvisor"] as const;

/** The CLI on a terminal of node-pty's: type, wait for output, resize. */
function onTerminal(h: Harness, args: string[]) {
  const p = ptySpawn(process.execPath, [MAIN, ...args], {
    cols: 90,
    rows: 20,
    env: h.env as Record<string, string>,
  });
  let out = "";
  p.onData((s) => {
    out += s;
  });
  const exited = new Promise<number>((r) => p.onExit((e) => r(e.exitCode)));
  /** Resolves with the output after `from` once it matches. */
  const waitFor = async (re: RegExp, from: number) => {
    const until = Date.now() + 15_000;
    while (!re.test(out.slice(from))) {
      if (Date.now() > until) throw new Error(`timed out waiting for ${re}; output:\n${out}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  return { p, exited, waitFor, length: () => out.length, output: () => out };
}

/** `sh -c SCRIPT` with `input` on stdin through a pipe, as a script would. */
function piped(
  h: Harness,
  script: string,
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const define = `warren_cli() { '${process.execPath}' '${MAIN}' "$@"; }; `;
    const child = spawn("/bin/sh", ["-c", define + script], { env: h.env });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString("latin1");
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
    child.on("close", (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

/** The CLI with nothing on stdin, without blocking the event loop (calls run side by side). */
function cli(h: Harness, args: string[]) {
  const quoted = args.map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(" ");
  return piped(h, `warren_cli ${quoted} </dev/null`);
}

describe("exec and shell on every runtime (e2e)", { timeout: 240_000 }, () => {
  let h: Harness;
  before(async () => {
    h = await makeHarness("exec");
    await h.startDaemon();
    for (const rt of RUNTIMES) {
      const r = h.cli(["up", "--name", rt, "--runtime", rt, "--memory", "256m", "--disk", "1g", "-d"]);
      assert.equal(r.status, 0, r.stderr);
    }
  });
  after(async () => {
    try {
      // No console socket or process file is left behind, whichever way the sessions ended.
      const left = spawnSync("sh", ["-c", `find ${h.root} -name 'exec-*' | head`], { encoding: "utf8" });
      assert.equal(left.stdout, "");
    } finally {
      await h?.teardown();
    }
  });

  for (const rt of RUNTIMES)
    describe(rt, () => {
      it(`${rt}: exec -t follows two resizes; stty size inside matches each`, async () => {
        const t = onTerminal(h, ["exec", "-t", rt, "--", "sh"]);
        await t.waitFor(/# $/, 0);
        for (const [cols, rows] of [
          [90, 20],
          [100, 30],
          [132, 43],
        ] as const) {
          if (cols !== 90) {
            t.p.resize(cols, rows);
            // The CLI hears of it by SIGWINCH, which need not come before keys typed meanwhile.
            await new Promise((r) => setTimeout(r, 200));
          }
          const from = t.length();
          t.p.write("stty size\r");
          // Both terminals (inside, and node-pty's) add a \r before each \n.
          await t.waitFor(new RegExp(`\\n${rows} ${cols}\\r`), from);
        }
        t.p.write("exit 3\r");
        assert.equal(await t.exited, 3);
        assert.ok(!t.output().includes("^@"), `no stray bytes: ${JSON.stringify(t.output())}`);
      });

      // Side by side: the CLI's start-up is most of each call's time.
      it(`${rt}: end of input reaches the command; -t without a terminal warns; 127, 126, own status`, async () => {
        const [piped1, shell, missing, notExec, own] = await Promise.all([
          piped(h, `printf 'abc\\n' | warren_cli exec -t ${rt} -- cat`),
          piped(h, `warren_cli shell ${rt} </dev/null; echo "status=$?"`),
          cli(h, ["exec", rt, "--", "nosuchcmd"]),
          cli(h, ["exec", rt, "--", "/etc/passwd"]),
          cli(h, ["exec", rt, "--", "sh", "-c", "exit 255"]),
        ]);
        assert.equal(piped1.status, 0, piped1.stderr);
        assert.equal(piped1.stdout, "abc\n", "once, with no echo and no ^@");
        assert.match(piped1.stderr, /the input is not a terminal, so the command runs without one/);
        assert.match(shell.stdout, /status=0\n$/, shell.stderr);
        assert.equal(missing.status, 127);
        assert.equal(missing.stderr, "warren: nosuchcmd: command not found\n");
        assert.equal(notExec.status, 126);
        assert.match(notExec.stderr, /^warren: \/etc\/passwd: permission denied/);
        assert.equal(own.status, 255, own.stderr);
      });

      it(`${rt}: -u NAME and UID:GID, -w and -e reach the command; an unknown user is 125`, async () => {
        const show = 'echo "$(id -u) $(id -g) $(pwd) $A $B $HOME $USER"';
        const [named, num, ghost] = await Promise.all([
          cli(h, [
            "exec",
            "-i",
            "-u",
            "nobody",
            "-w",
            "/tmp",
            "-e",
            "A=1",
            "-e",
            "B=x=y",
            rt,
            "--",
            "sh",
            "-c",
            show,
          ]),
          cli(h, ["exec", "-u", "1234:4321", rt, "--", "sh", "-c", 'echo "$(id -u) $(id -g) $HOME"']),
          cli(h, ["exec", "-u", "ghost", rt, "--", "true"]),
        ]);
        assert.equal(named.stdout, "65534 65534 /tmp 1 x=y /nonexistent nobody\n", named.stderr);
        assert.equal(num.stdout, "1234 4321 /\n", num.stderr);
        assert.equal(ghost.status, 125);
        assert.match(ghost.stderr, /no user ghost in environment/);
      });
    });

  it("an environment with variable secrets follows the same rule", async () => {
    const s = await piped(h, "printf 'v\\n' | warren_cli secret set EXEC_S --env --value-stdin");
    assert.equal(s.status, 0, s.stderr);
    const up = await cli(h, [
      "up",
      "--name",
      "sec",
      "--runtime",
      "crun",
      "--memory",
      "256m",
      "--disk",
      "1g",
      "-d",
    ]);
    assert.equal(up.status, 0, up.stderr);
    const [value, missing, notExec] = await Promise.all([
      cli(h, ["exec", "sec", "--", "printenv", "EXEC_S"]),
      cli(h, ["exec", "sec", "--", "nosuchcmd"]),
      cli(h, ["exec", "sec", "--", "/etc/passwd"]),
    ]);
    assert.equal(value.stdout, "v\n", value.stderr);
    assert.equal(missing.status, 127);
    assert.equal(missing.stderr, "warren: nosuchcmd: command not found\n");
    assert.equal(notExec.status, 126);
  });
});
