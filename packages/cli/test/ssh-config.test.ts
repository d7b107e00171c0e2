// `warren ssh-config` against a fake daemon in a temp HOME: the printed block, and --write into
// ~/.ssh/config between markers: made 0600 in a 0700 ~/.ssh, idempotent (a second run writes
// nothing), other content and the file's mode kept, a symlink kept, a new environment replacing
// the block in place. The host key is pinned in the managed known_hosts file. The real OpenSSH
// client checks both files: `ssh -G` resolves ENV.warren to the gateway, `ssh-keygen -F` finds
// the key. A hostile server cannot add lines to either file.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, beforeEach, describe, it } from "node:test";
import { installBlock } from "../src/ssh-config-file.ts";
import { gatewayHost, knownHostsName } from "../src/ssh-target.ts";
import { type FakeDaemon, makeEnv, runCli, startFakeDaemon } from "./fake-daemon.ts";

const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";
const KEY2 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBz0cjVjYmAsVtl4hFYr3Dw2ZJmgI7gT8vGUyb5xQ6Tn";
const GATEWAY = { listening: true, host: "0.0.0.0", port: 40022, hostKey: KEY, fingerprint: "SHA256:fake" };
const START = "# ------------START-WARREN-local-----------";
const END = "# ------------END-WARREN-local-----------";

let d: FakeDaemon;
const tmp = mkdtempSync(path.join(tmpdir(), "warren-ssh-config-"));
const home = path.join(tmp, "home");
const sshDir = path.join(home, ".ssh");
const config = path.join(sshDir, "config");
const knownHosts = path.join(home, ".config", "warren", "ssh", "known_hosts");

before(async () => {
  d = await startFakeDaemon();
});
after(async () => {
  await d.close();
  rmSync(tmp, { recursive: true, force: true });
});
beforeEach(() => {
  d.reset();
  d.sshGateway = { ...GATEWAY };
  d.envs.set("web", makeEnv("web"));
  d.envs.set("dev", makeEnv("dev"));
  rmSync(home, { recursive: true, force: true });
  mkdirSync(home);
});

const cli = (args: string[]) =>
  runCli(args, {
    env: { WARREN_SOCKET: d.socket, WARREN_CONTEXT: undefined, HOME: home, XDG_CONFIG_HOME: undefined },
  });

/** What the real OpenSSH client makes of `host` with this config file (no connection). */
function resolved(file: string, host: string): Record<string, string> {
  const out = execFileSync("ssh", ["-G", "-F", file, host], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "ignore"],
  });
  return Object.fromEntries(out.split("\n").map((l) => [l.split(" ")[0]!, l.slice(l.indexOf(" ") + 1)]));
}

const mode = (p: string) => statSync(p).mode & 0o777;

describe("warren ssh-config", () => {
  it("prints one Host entry per environment between markers, writes no ssh config, pins the key", async () => {
    const r = await cli(["ssh-config"]);
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.split("\n");
    assert.equal(lines[0], START);
    assert.equal(lines.at(-2), END);
    assert.match(r.stdout, /# Re-run `warren ssh-config --write` after creating environments/);
    assert.match(
      r.stdout,
      new RegExp(
        `Host dev\\.warren\\n  HostName 127\\.0\\.0\\.1\\n  Port 40022\\n  User dev\\n  UserKnownHostsFile ${knownHosts}\\n  StrictHostKeyChecking yes\\n`,
      ),
    );
    assert.ok(r.stdout.indexOf("Host dev.warren") < r.stdout.indexOf("Host web.warren"));
    assert.equal(existsSync(sshDir), false);
    assert.equal(readFileSync(knownHosts, "utf8"), `[127.0.0.1]:40022 ${KEY}\n`);
    assert.equal(mode(knownHosts), 0o600);
    assert.equal(mode(path.dirname(knownHosts)), 0o700);
    // The real client finds the key under the name it looks up for that host and port.
    const found = execFileSync("ssh-keygen", ["-F", "[127.0.0.1]:40022", "-f", knownHosts], {
      encoding: "utf8",
    });
    assert.match(found, /ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0/);
  });

  it("--write makes ~/.ssh (0700) and its config (0600), and a second run changes nothing", async () => {
    const r = await cli(["ssh-config", "--write"]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(
      r.stdout,
      /^wrote 2 environments of context "local" to .*\.ssh\/config; connect with `ssh dev\.warren`/,
    );
    assert.equal(mode(sshDir), 0o700);
    assert.equal(mode(config), 0o600);
    const first = readFileSync(config, "utf8");
    const before = statSync(config);
    assert.ok(first.startsWith(`${START}\n`) && first.endsWith(`${END}\n`));

    const again = await cli(["ssh-config", "--write"]);
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stdout, /is up to date \(2 environments/);
    assert.equal(readFileSync(config, "utf8"), first);
    const after = statSync(config);
    assert.equal(after.ino, before.ino, "rewritten");
    assert.equal(after.mtimeMs, before.mtimeMs, "rewritten");

    // OpenSSH resolves the alias to the gateway, as the environment's user, pinned strictly.
    const o = resolved(config, "web.warren");
    assert.equal(o["hostname"], "127.0.0.1");
    assert.equal(o["port"], "40022");
    assert.equal(o["user"], "web");
    assert.equal(o["userknownhostsfile"], knownHosts);
    assert.equal(o["stricthostkeychecking"], "true");
  });

  it("keeps the rest of an existing config and its mode; a new environment replaces the block in place", async () => {
    mkdirSync(sshDir, { mode: 0o755 });
    const head = "Host github.com\n  User git\n  IdentityFile ~/.ssh/gh\n";
    const tail = "\n# mine\nHost *\n  ServerAliveInterval 30\n";
    writeFileSync(config, head, { mode: 0o644 });
    assert.equal((await cli(["ssh-config", "--write"])).status, 0);
    const written = readFileSync(config, "utf8");
    assert.ok(written.startsWith(`${head}\n${START}\n`), written);
    writeFileSync(config, written + tail);

    d.envs.set("api", makeEnv("api"));
    const r = await cli(["ssh-config", "--write", "-i", "/keys/id_work"]);
    assert.equal(r.status, 0, r.stderr);
    const text = readFileSync(config, "utf8");
    assert.ok(text.startsWith(`${head}\n${START}\n`), text);
    assert.ok(text.endsWith(`${END}\n${tail}`), text);
    assert.equal(text.split(START).length, 2, "one block");
    assert.match(text, /Host api\.warren\n[\s\S]* {2}IdentityFile \/keys\/id_work\n {2}IdentitiesOnly yes\n/);
    assert.equal(mode(config), 0o644);
    assert.equal(mode(sshDir), 0o755);
    assert.equal(resolved(config, "api.warren")["user"], "api");
    assert.equal(resolved(config, "github.com")["user"], "git");
  });

  it("--ssh-config FILE: follows a symlink, so the link stays a link", async () => {
    const real = path.join(tmp, "dotfiles-ssh-config");
    writeFileSync(real, "# dotfiles\n");
    mkdirSync(sshDir, { mode: 0o700 });
    const link = path.join(sshDir, "linked");
    symlinkSync(real, link);
    const r = await cli(["ssh-config", "--write", "--ssh-config", link]);
    assert.equal(r.status, 0, r.stderr);
    assert.ok(lstatSync(link).isSymbolicLink());
    assert.match(readFileSync(real, "utf8"), /^# dotfiles\n\n# -+START-WARREN-local-+\n/);
    rmSync(real);
  });

  it("--json prints the hosts as data; a changed host key replaces the pinned one, other lines stay", async () => {
    mkdirSync(path.dirname(knownHosts), { recursive: true });
    writeFileSync(knownHosts, `[10.0.0.9]:2222 ${KEY2}\n[127.0.0.1]:40022 ${KEY2}\n`);
    const r = await cli(["ssh-config", "--json"]);
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.deepEqual(out, {
      context: "local",
      hostKey: KEY,
      fingerprint: "SHA256:fake",
      knownHostsFile: knownHosts,
      hosts: [
        { alias: "dev.warren", environment: "dev", hostName: "127.0.0.1", port: 40022, user: "dev" },
        { alias: "web.warren", environment: "web", hostName: "127.0.0.1", port: 40022, user: "web" },
      ],
    });
    assert.equal(readFileSync(knownHosts, "utf8"), `[10.0.0.9]:2222 ${KEY2}\n[127.0.0.1]:40022 ${KEY}\n`);
  });

  it("a hostile server adds no line: a malformed name is skipped, a malformed key refused", async () => {
    d.envs.set("x", makeEnv("x", { name: "evil\n  ProxyCommand touch /tmp/pwned" }));
    const r = await cli(["ssh-config", "--write"]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /skipped an environment with a malformed name/);
    assert.doesNotMatch(readFileSync(config, "utf8"), /ProxyCommand/);

    rmSync(knownHosts);
    d.sshGateway = { ...GATEWAY, hostKey: `${KEY}\n@cert-authority * ${KEY2}` };
    const bad = await cli(["ssh-config"]);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /malformed port or host key/);
    assert.equal(existsSync(knownHosts), false);
  });

  it("says how to turn the gateway on when it is off; --ssh-config without --write is refused", async () => {
    d.sshGateway = { ...GATEWAY, listening: false };
    const off = await cli(["ssh-config", "--write"]);
    assert.equal(off.status, 1);
    assert.match(off.stderr, /SSH gateway is off; an admin turns it on with `warren daemon --ssh-listen/);
    assert.equal(existsSync(config), false);

    const r = await cli(["ssh-config", "--ssh-config", config]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /add --write/);
  });
});

describe("installBlock", () => {
  const block = (ctx: string, body: string) =>
    `# ------------START-WARREN-${ctx}-----------\n${body}\n# ------------END-WARREN-${ctx}-----------\n`;

  it("keeps each context's block apart and replaces only its own", () => {
    let text = installBlock("", "local", block("local", "A"));
    text = installBlock(text, "lab", block("lab", "B"));
    const both = text;
    text = installBlock(text, "local", block("local", "A2"));
    assert.equal(text, both.replace("\nA\n", "\nA2\n"));
    assert.equal(installBlock(text, "lab", block("lab", "B")), text);
  });

  it("refuses a START marker without its END, rather than eat the rest of the file", () => {
    const broken = "# ------------START-WARREN-local-----------\nHost mine\n";
    assert.throws(() => installBlock(broken, "local", block("local", "A")), /without its END marker/);
  });
});

describe("gatewayHost", () => {
  const info = (host: string) => ({ ...GATEWAY, host });

  it("local socket: the gateway's own address, 127.0.0.1 for a wildcard; remote: the API's host name", () => {
    assert.equal(gatewayHost(info("0.0.0.0")), "127.0.0.1");
    assert.equal(gatewayHost(info("::")), "127.0.0.1");
    assert.equal(gatewayHost(info("10.1.2.3")), "10.1.2.3");
    assert.equal(gatewayHost(info("0.0.0.0"), "https://warren.example.com:7443"), "warren.example.com");
    assert.equal(gatewayHost(info("127.0.0.1"), "https://127.0.0.1:7443"), "127.0.0.1");
    assert.equal(gatewayHost(info("::"), "https://[::1]:7443"), "::1");
    assert.equal(knownHostsName("::1", 2222), "[::1]:2222");
    assert.equal(knownHostsName("example.org", 22), "example.org");
  });

  it("a remote context whose gateway listens on loopback only says how to open it", () => {
    assert.throws(
      () => gatewayHost(info("127.0.0.1"), "https://warren.example.com:7443"),
      /listens on 127\.0\.0\.1 only.*--ssh-listen 0\.0\.0\.0:2222/,
    );
  });
});
