// `warren port-forward` against a REMOTE context: a real daemon (server and engine in one process)
// with its TLS listener, reached by the CLI only through a saved context with the pinned
// fingerprint and a token. Inside the environment a small HTTP server (the base image's perl,
// bound to the environment's own 127.0.0.1) serves a 100 MiB file; curl on this host fetches it
// through the forward, byte-identical, also several at once; Ctrl-C exits 0. Then waking: after
// `warren stop`, `warren exec` starts the environment, says so, and runs.
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { unixTransport } from "@warren/protocol";
import { type Harness, makeHarness, REPO } from "@warren/testing/e2e-harness";
import { callJson } from "@warren/testing/server-process";

const MAIN = path.join(REPO, "packages/cli/src/main.ts");
const BIG = 100 * 1024 * 1024;
const MID = 8 * 1024 * 1024;

// One process per connection, so concurrent downloads overlap; HTTP/1.0, the whole file, then close.
const SERVER = `
use IO::Socket::INET;
my $s = IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => 8000, Listen => 32, ReuseAddr => 1) or die "listen: $!";
$SIG{CHLD} = "IGNORE";
while (1) {
  my $c = $s->accept or next;
  if (fork) { close $c; next }
  local $/ = "\\r\\n\\r\\n";
  my $req = <$c>;
  my ($p) = $req =~ m{^GET /(\\w+) };
  my $f = "/srv/" . ($p // "none");
  open(my $fh, "<", $f) or do { print $c "HTTP/1.0 404 Not Found\\r\\nContent-Length: 0\\r\\n\\r\\n"; exit 0 };
  binmode $fh; binmode $c;
  print $c "HTTP/1.0 200 OK\\r\\nContent-Length: " . (-s $f) . "\\r\\n\\r\\n";
  while (read($fh, my $buf, 262144)) { print $c $buf or last }
  exit 0;
}
`;

const sha256File = (file: string) =>
  new Promise<string>((resolve, reject) => {
    const h = createHash("sha256");
    createReadStream(file)
      .on("data", (d) => h.update(d))
      .on("end", () => resolve(h.digest("hex")))
      .on("error", reject);
  });

interface Forward {
  child: ChildProcess;
  events: Record<string, unknown>[];
  stderr: string;
}

describe("port-forward over a remote (TLS) context (e2e)", { timeout: 300_000 }, () => {
  let h: Harness;
  let cliEnv: NodeJS.ProcessEnv = {};
  let forward: Forward | undefined;
  const sums: Record<string, string> = {};
  const cli = (args: string[], input?: string) =>
    h.cli(args, { env: cliEnv, ...(input !== undefined ? { input } : {}) });

  before(async () => {
    h = await makeHarness("pf");
    await h.startDaemon({ WARREN_LISTEN: "127.0.0.1:0" });
    // The socket answers before the TLS listener is up: wait for its log line (port and fingerprint).
    let line: string | undefined;
    for (let i = 0; !line; i++) {
      assert.ok(i < 200, "the daemon did not log its TLS listener");
      line = readFileSync(path.join(h.root, "daemon.log"), "utf8")
        .split("\n")
        .find((l) => l.includes("listening on TLS"));
      if (!line) await sleep(50);
    }
    const { port, fingerprint } = JSON.parse(line) as { port: number; fingerprint: string };
    const user = await callJson(unixTransport(h.socket), "POST", "/api/v1/tokens", { name: "pf" });
    cliEnv = { XDG_CONFIG_HOME: path.join(h.root, "config"), WARREN_CONTEXT: "remote" };
    const login = h.cli(
      [
        "login",
        `https://127.0.0.1:${port}`,
        "--fingerprint",
        fingerprint,
        "--token-stdin",
        "--name",
        "remote",
      ],
      { input: (user.body as { token: string }).token, env: { XDG_CONFIG_HOME: cliEnv["XDG_CONFIG_HOME"] } },
    );
    assert.equal(login.status, 0, login.stderr);

    const up = cli(["up", "--name", "pf", "--memory", "512m", "--disk", "1g", "--", "true"]);
    assert.equal(up.status, 0, up.stderr);
    const put = cli(["exec", "pf", "--", "sh", "-c", "mkdir -p /srv && cat > /srv/serve.pl"], SERVER);
    assert.equal(put.status, 0, put.stderr);
    const made = cli([
      "exec",
      "pf",
      "--",
      "sh",
      "-c",
      `head -c ${BIG} /dev/urandom > /srv/big && head -c ${MID} /dev/urandom > /srv/mid && cd /srv && sha256sum big mid`,
    ]);
    assert.equal(made.status, 0, made.stderr);
    for (const l of made.stdout.trim().split("\n")) {
      const [sum, name] = l.split(/\s+/);
      sums[name!] = sum!;
    }
    const served = cli([
      "exec",
      "pf",
      "--",
      "sh",
      "-c",
      "nohup perl /srv/serve.pl </dev/null >/srv/log 2>&1 &",
    ]);
    assert.equal(served.status, 0, served.stderr);
  });

  after(async () => {
    try {
      if (forward?.child.exitCode === null) forward.child.kill("SIGKILL");
    } finally {
      await h?.teardown();
    }
  });

  /** Starts `warren port-forward pf ARGS --json` and resolves once every port listens. */
  async function startForward(args: string[], ports: number): Promise<Forward> {
    const child = spawn(process.execPath, [MAIN, "port-forward", "pf", ...args, "--json"], {
      env: { ...h.env, ...cliEnv },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const f: Forward = { child, events: [], stderr: "" };
    let buf = "";
    child.stdout!.on("data", (d: Buffer) => {
      buf += d.toString();
      for (let i = buf.indexOf("\n"); i >= 0; i = buf.indexOf("\n")) {
        f.events.push(JSON.parse(buf.slice(0, i)) as Record<string, unknown>);
        buf = buf.slice(i + 1);
      }
    });
    child.stderr!.on("data", (d: Buffer) => {
      f.stderr += d.toString();
    });
    const until = Date.now() + 15_000;
    while (f.events.filter((e) => e["event"] === "listening").length < ports) {
      assert.equal(child.exitCode, null, `port-forward exited: ${f.stderr}`);
      assert.ok(Date.now() < until, `port-forward did not listen: ${f.stderr}`);
      await sleep(50);
    }
    return f;
  }

  const curl = (port: number, file: string, out: string) =>
    new Promise<{ status: number; stderr: string }>((resolve) => {
      const c = spawn("curl", ["-sS", "--fail", "-o", out, `http://127.0.0.1:${port}/${file}`], {
        stdio: ["ignore", "ignore", "pipe"],
      });
      let stderr = "";
      c.stderr.on("data", (d: Buffer) => {
        stderr += d.toString();
      });
      c.on("close", (code) => resolve({ status: code ?? 128, stderr }));
    });

  it("curl fetches 100 MiB through it, byte-identical, and several connections at once", async () => {
    // Wait for the server inside to listen (curl inside the environment, on its own loopback).
    for (let i = 0; ; i++) {
      const probe = cli(["exec", "pf", "--", "curl", "-s", "-o", "/dev/null", "http://127.0.0.1:8000/none"]);
      if (probe.status === 0) break;
      assert.ok(
        i < 50,
        `the server inside did not start: ${cli(["exec", "pf", "--", "cat", "/srv/log"]).stdout}`,
      );
      await sleep(100);
    }
    forward = await startForward([":8000"], 1);
    const listening = forward.events.find((e) => e["event"] === "listening")!;
    assert.equal(listening["address"], "127.0.0.1");
    assert.equal(listening["remote"], 8000);
    const port = listening["local"] as number;
    assert.ok(port > 0, "a free local port was picked and printed");

    const out = path.join(h.root, "big.out");
    const t0 = performance.now();
    const got = await curl(port, "big", out);
    const secs = (performance.now() - t0) / 1000;
    assert.equal(got.status, 0, got.stderr + forward.stderr);
    assert.equal(await sha256File(out), sums["big"], "the 100 MiB download is byte-identical");
    rmSync(out);
    console.log(
      `# 100 MiB through port-forward (TLS context): ${secs.toFixed(2)} s, ${(100 / secs).toFixed(0)} MiB/s`,
    );

    const many = await Promise.all(
      [0, 1, 2, 3, 4, 5].map(async (i) => {
        const file = path.join(h.root, `mid-${i}.out`);
        const r = await curl(port, "mid", file);
        const sum = r.status === 0 ? await sha256File(file) : r.stderr;
        rmSync(file, { force: true });
        return sum;
      }),
    );
    assert.deepEqual(many, Array(6).fill(sums["mid"]), "6 concurrent downloads, each byte-identical");

    // Every connection was reported, opened and closed, with its bytes.
    const closes = forward.events.filter((e) => e["event"] === "close");
    const opens = forward.events.filter((e) => e["event"] === "open");
    assert.equal(opens.length, 7);
    assert.equal(closes.length, 7, JSON.stringify(forward.events));
    assert.ok(
      closes.some((e) => (e["received"] as number) > BIG),
      "the big download's bytes were counted",
    );
  });

  it("Ctrl-C closes the listeners and exits 0", async () => {
    const f = forward!;
    const port = f.events.find((e) => e["event"] === "listening")!["local"] as number;
    const exited = new Promise<number | null>((resolve) => f.child.once("exit", (code) => resolve(code)));
    f.child.kill("SIGINT");
    assert.equal(await exited, 0, f.stderr);
    const after = spawnSync("curl", ["-sS", "-o", "/dev/null", `http://127.0.0.1:${port}/mid`], {
      encoding: "utf8",
    });
    assert.notEqual(after.status, 0, "nothing listens once it exited");
  });

  it("exec to a stopped environment starts it, says so, and runs", () => {
    const stop = cli(["stop", "pf"]);
    assert.equal(stop.status, 0, stop.stderr);
    const ex = cli(["exec", "pf", "--", "sh", "-c", "exit 4"]);
    assert.equal(ex.status, 4, ex.stderr);
    assert.match(ex.stderr, /warren: starting pf/);
    const info = JSON.parse(cli(["inspect", "pf", "--json"]).stdout) as { state: string };
    assert.equal(info.state, "running");
  });
});
