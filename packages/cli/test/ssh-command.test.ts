// `warren ssh` against a fake daemon: the exact OpenSSH argv (port, user, pinned known_hosts,
// strict checking, the command after `--`), the options it passes on, exit statuses (the remote
// command's passes through, OpenSSH's own 255 becomes 125), and refusals before ssh runs. `ssh`
// is a stand-in script on PATH that records its argv and exits with a chosen status (the process
// boundary); one case runs the real OpenSSH client at a closed port.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, beforeEach, describe, it } from "node:test";
import { type FakeDaemon, makeEnv, runCli, startFakeDaemon } from "./fake-daemon.ts";

const GATEWAY = {
  listening: true,
  host: "127.0.0.1",
  port: 2222,
  hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl",
  fingerprint: "SHA256:fake",
};

let d: FakeDaemon;
const tmp = mkdtempSync(path.join(tmpdir(), "warren-ssh-cmd-"));
const home = path.join(tmp, "home");
const bin = path.join(tmp, "bin");
const argvFile = path.join(tmp, "argv");
const knownHosts = path.join(home, ".config", "warren", "ssh", "known_hosts");

before(async () => {
  d = await startFakeDaemon();
  mkdirSync(bin);
  // The stand-in: records its argv (NUL-separated) and exits as told, or kills itself.
  writeFileSync(
    path.join(bin, "ssh"),
    '#!/bin/sh\nprintf \'%s\\0\' "$@" > "$FAKE_SSH_ARGV"\n[ -n "$FAKE_SSH_SIGNAL" ] && kill -"$FAKE_SSH_SIGNAL" $$\nexit "$FAKE_SSH_EXIT"\n',
    { mode: 0o755 },
  );
});
after(async () => {
  await d.close();
  rmSync(tmp, { recursive: true, force: true });
});
beforeEach(() => {
  d.reset();
  d.sshGateway = { ...GATEWAY };
  d.envs.set("dev", makeEnv("dev"));
  rmSync(argvFile, { force: true });
  rmSync(home, { recursive: true, force: true });
});

function cli(args: string[], env: NodeJS.ProcessEnv = {}) {
  return runCli(args, {
    env: {
      WARREN_SOCKET: d.socket,
      WARREN_CONTEXT: undefined,
      HOME: home,
      XDG_CONFIG_HOME: undefined,
      PATH: `${bin}:${process.env["PATH"]}`,
      FAKE_SSH_ARGV: argvFile,
      FAKE_SSH_EXIT: "0",
      ...env,
    },
  });
}

const recorded = (): string[] => readFileSync(argvFile, "utf8").split("\0").slice(0, -1);

const BASE = [
  "-p",
  "2222",
  "-l",
  "dev",
  "-o",
  `UserKnownHostsFile=${knownHosts}`,
  "-o",
  "StrictHostKeyChecking=yes",
  "-o",
  "CheckHostIP=no",
  "-o",
  "UpdateHostKeys=no",
];

describe("warren ssh", () => {
  it("runs ssh with the gateway's port, the user, the pinned host key and the command after --", async () => {
    const r = await cli(["ssh", "dev", "--", "ls", "-l", "/tmp dir"]);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(recorded(), [...BASE, "--", "127.0.0.1", "ls", "-l", "/tmp dir"]);
    assert.equal(readFileSync(knownHosts, "utf8"), `[127.0.0.1]:2222 ${GATEWAY.hostKey}\n`);
  });

  it("a login shell: no command; ENV.ORG is the user; a wildcard gateway address is reached on 127.0.0.1", async () => {
    d.sshGateway = { ...GATEWAY, host: "0.0.0.0", port: 40022 };
    const r = await cli(["ssh", "dev.acme"]);
    assert.equal(r.status, 0, r.stderr);
    const argv = recorded();
    assert.deepEqual(argv.slice(0, 4), ["-p", "40022", "-l", "dev.acme"]);
    assert.deepEqual(argv.slice(-2), ["--", "127.0.0.1"]);
    assert.match(readFileSync(knownHosts, "utf8"), /^\[127\.0\.0\.1\]:40022 ssh-ed25519 /);
  });

  it("passes -i (identities only), -A, every -L and -t on", async () => {
    const r = await cli([
      "ssh",
      "-i",
      "/keys/id_work",
      "-A",
      "-L",
      "8080:localhost:8080",
      "-L",
      "127.0.0.1:5432:localhost:5432",
      "-t",
      "dev",
      "--",
      "top",
    ]);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(recorded(), [
      ...BASE,
      "-i",
      "/keys/id_work",
      "-o",
      "IdentitiesOnly=yes",
      "-A",
      "-L",
      "8080:localhost:8080",
      "-L",
      "127.0.0.1:5432:localhost:5432",
      "-t",
      "--",
      "127.0.0.1",
      "top",
    ]);
  });

  it("the remote command's status passes through; a signal that ends ssh gives 128+N", async () => {
    for (const code of [7, 254]) {
      const r = await cli(["ssh", "dev", "--", "exit", String(code)], { FAKE_SSH_EXIT: String(code) });
      assert.equal(r.status, code, r.stderr);
      assert.equal(r.stderr, "");
    }
    const killed = await cli(["ssh", "dev"], { FAKE_SSH_SIGNAL: "TERM" });
    assert.equal(killed.status, 128 + 15, killed.stderr);
  });

  it("OpenSSH's own failure (255) exits 125, with a hint; none registered a key: says how to add one", async () => {
    d.override.set("GET /api/v1/ssh-keys", (_b, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ items: [{ id: "ssk_1" }] }));
    });
    const r = await cli(["ssh", "dev"], { FAKE_SSH_EXIT: "255" });
    assert.equal(r.status, 125);
    assert.match(r.stderr, /ssh failed \(status 255\)/);

    d.override.set("GET /api/v1/ssh-keys", (_b, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ items: [] }));
    });
    const none = await cli(["ssh", "dev"], { FAKE_SSH_EXIT: "255" });
    assert.equal(none.status, 125);
    assert.match(none.stderr, /no SSH key registered.*warren ssh-key add/);
  });

  it("the real OpenSSH client at a gateway nobody listens on exits 125", async () => {
    const srv = createServer();
    await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
    const port = (srv.address() as { port: number }).port;
    await new Promise((r) => srv.close(r));
    d.sshGateway = { ...GATEWAY, port };
    const r = await cli(["ssh", "dev", "--", "true"], { PATH: process.env["PATH"] });
    assert.equal(r.status, 125, r.stderr);
    assert.match(r.stderr, /Connection refused/);
  });

  it("refuses before running ssh: a bad name, a bad -L, a gateway that is off, a malformed host key", async () => {
    const cases: [string[], RegExp][] = [
      [["ssh", "dev@host"], /"dev@host" is not an environment/],
      [["ssh", "-L", "-oProxyCommand=x", "dev"], /is not a forward/],
    ];
    for (const [args, msg] of cases) {
      const r = await cli(args);
      assert.equal(r.status, 125, args.join(" "));
      assert.match(r.stderr, msg);
    }
    d.sshGateway = { ...GATEWAY, listening: false };
    const off = await cli(["ssh", "dev"]);
    assert.equal(off.status, 125);
    assert.match(off.stderr, /SSH gateway is off.*--ssh-listen/);

    d.sshGateway = { ...GATEWAY, hostKey: `${GATEWAY.hostKey}\n@cert-authority * ssh-ed25519 AAAA` };
    const hostile = await cli(["ssh", "dev"]);
    assert.equal(hostile.status, 125);
    assert.match(hostile.stderr, /malformed port or host key/);
    assert.equal(existsSync(knownHosts), false);
    assert.equal(existsSync(argvFile), false, "ssh ran");
  });

  it("without OpenSSH installed: says so, exits 125", async () => {
    const empty = path.join(tmp, "empty");
    mkdirSync(empty, { recursive: true });
    const r = await cli(["ssh", "dev"], { PATH: empty });
    assert.equal(r.status, 125);
    assert.match(r.stderr, /OpenSSH's client is not installed/);
  });
});
