// Real work under gVisor, end to end: a Debian environment on `--runtime gvisor` (the pinned
// runsc from .toolchain/runsc) runs `ls -l`, `stat`, `git` and `apt-get install`, the tools a
// developer reaches for first. The apt repository is a one-package flat repository that the
// test builds with dpkg-deb and serves with python3's http.server inside a network namespace it
// made, reached through the environment's own egress NAT; the real archive is never contacted
// (apt inside gets a source list naming only that repository).
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { createHash, randomBytes, randomInt } from "node:crypto";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { run } from "@warren/runner";
import { type Harness, makeHarness } from "@warren/testing/e2e-harness";

const ENV = "work";
const PKG = "warren-hello";
const REPO_IP = `203.0.113.${randomInt(2, 250)}`;
const REPO_PORT = randomInt(20000, 40000);

/** A flat apt repository with one arch-all package whose binary prints a marker. */
async function buildRepo(dir: string, marker: string): Promise<void> {
  const pkgRoot = path.join(dir, "pkgroot");
  await fs.mkdir(path.join(pkgRoot, "DEBIAN"), { recursive: true });
  await fs.mkdir(path.join(pkgRoot, "usr/bin"), { recursive: true });
  await fs.writeFile(
    path.join(pkgRoot, "DEBIAN/control"),
    `Package: ${PKG}\nVersion: 1.0\nArchitecture: all\nMaintainer: Warren tests <tests@warren.invalid>\nDescription: prints a marker\n`,
  );
  await fs.writeFile(path.join(pkgRoot, `usr/bin/${PKG}`), `#!/bin/sh\necho ${marker}\n`, { mode: 0o755 });
  const repo = path.join(dir, "repo");
  await fs.mkdir(repo);
  const deb = path.join(repo, `${PKG}_1.0_all.deb`);
  await run("dpkg-deb", ["--root-owner-group", "-Zgzip", "--build", pkgRoot, deb]);
  const debBytes = await fs.readFile(deb);
  const sha = (b: Buffer | string) => createHash("sha256").update(b).digest("hex");
  const packages = [
    `Package: ${PKG}`,
    "Version: 1.0",
    "Architecture: all",
    "Maintainer: Warren tests <tests@warren.invalid>",
    `Filename: ${path.basename(deb)}`,
    `Size: ${debBytes.length}`,
    `SHA256: ${sha(debBytes)}`,
    "Description: prints a marker",
    "",
  ].join("\n");
  await fs.writeFile(path.join(repo, "Packages"), packages);
  // Unsigned; the environment's source line says [trusted=yes] for this repository only.
  const release = `Origin: warren-test\nLabel: warren-test\nSHA256:\n ${sha(packages)} ${Buffer.byteLength(packages)} Packages\n`;
  await fs.writeFile(path.join(repo, "Release"), release);
}

/**
 * A stand-in host in its own netns holding REPO_IP, reached from the host by a veth and a /32
 * route (never through the host's main interface). Returns the netns name.
 */
async function standIn(prefix: string, undo: (() => Promise<unknown>)[]): Promise<string> {
  const ns = `${prefix}-apt`;
  const link = `${prefix}a`;
  const third = randomInt(1, 250);
  const hostIp = `10.203.${third}.1`;
  const peerIp = `10.203.${third}.2`;
  undo.push(() => run("ip", ["netns", "del", ns], { allowFail: true }));
  undo.push(() => run("ip", ["link", "del", link], { allowFail: true }));
  undo.push(() => run("ip", ["route", "del", `${REPO_IP}/32`], { allowFail: true }));
  await run("ip", ["netns", "add", ns]);
  await run("ip", ["link", "add", link, "type", "veth", "peer", "name", "eth0", "netns", ns]);
  await run("ip", ["addr", "add", `${hostIp}/30`, "dev", link]);
  await run("ip", ["link", "set", link, "up"]);
  for (const args of [
    ["link", "set", "lo", "up"],
    ["link", "set", "eth0", "up"],
    ["addr", "add", `${peerIp}/30`, "dev", "eth0"],
    ["addr", "add", `${REPO_IP}/32`, "dev", "eth0"],
    ["route", "add", "default", "via", hostIp],
  ])
    await run("ip", ["-n", ns, ...args]);
  await run("ip", ["route", "replace", `${REPO_IP}/32`, "via", peerIp, "dev", link]);
  return ns;
}

// python3's http.server, announcing when it listens; its request log goes to stderr.
const SERVER = `
import functools, http.server, sys
d, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=d)
s = http.server.ThreadingHTTPServer((host, port), handler)
print("ready", flush=True)
s.serve_forever()
`;

/** Serves `dir` on REPO_IP:REPO_PORT inside the netns; returns the paths it is asked for. */
async function serve(ns: string, dir: string, procs: ChildProcess[]): Promise<string[]> {
  const p = spawn(
    "nsenter",
    [`--net=/run/netns/${ns}`, "python3", "-c", SERVER, dir, REPO_IP, String(REPO_PORT)],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  procs.push(p);
  const requests: string[] = [];
  let buf = "";
  p.stderr!.on("data", (d: Buffer) => {
    const lines = (buf + d.toString()).split("\n");
    buf = lines.pop()!;
    for (const l of lines) {
      const m = /"GET (\S+) HTTP/.exec(l);
      if (m) requests.push(m[1]!);
    }
  });
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(
      () => reject(new Error(`the stand-in apt repository did not start: ${buf}`)),
      30_000,
    );
    p.stdout!.on("data", (d: Buffer) => {
      if (d.toString().includes("ready")) {
        clearTimeout(t);
        resolve();
      }
    });
    p.on("exit", (code) => reject(new Error(`the stand-in apt repository exited ${code}`)));
  });
  return requests;
}

describe("real work in a gVisor environment (e2e)", { timeout: 180_000 }, () => {
  let h: Harness;
  let tmp: string;
  let requests: string[] = [];
  const marker = `hello-from-apt-${randomBytes(4).toString("hex")}`;
  const undo: (() => Promise<unknown>)[] = [];
  const procs: ChildProcess[] = [];
  const sh = (script: string) => h.cli(["exec", ENV, "--", "sh", "-c", script]);

  before(async () => {
    const t0 = Date.now();
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), "warren-gvisor-work-"));
    h = await makeHarness("gvisor-work");
    await h.startDaemon();
    const t1 = Date.now();
    // The repository is made while the environment starts.
    const up = h.cliAsync(["up", "--name", ENV, "--disk", "1g", "--runtime", "gvisor", "--detach"]);
    await buildRepo(tmp, marker);
    requests = await serve(await standIn(h.prefix, undo), path.join(tmp, "repo"), procs);
    const t2 = Date.now();
    const r = await up;
    assert.equal(r.status, 0, r.stderr);
    console.log(`# daemon ${t1 - t0} ms, repository ${t2 - t1} ms, up ${Date.now() - t1} ms`);
  });
  after(async () => {
    for (const p of procs) if (p.exitCode === null) p.kill("SIGKILL");
    for (const fn of undo.reverse()) await fn().catch(() => {});
    await h?.teardown();
    if (tmp) await fs.rm(tmp, { recursive: true, force: true });
    assert.deepEqual(h?.leftovers() ?? [], []);
  });

  it("stat works (statx), on files, directories and symlinks", () => {
    const r = sh("stat -c '%F|%s|%U' /etc/debian_version /etc; stat -c '%F|%N' /bin");
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, "");
    const [file, dir, link] = r.stdout.trim().split("\n");
    assert.match(file!, /^regular file\|\d+\|root$/);
    assert.match(dir!, /^directory\|\d+\|root$/);
    assert.equal(link, "symbolic link|'/bin' -> 'usr/bin'");
  });

  it("ls -l / lists every entry; each symlink also gets a 'Bad file descriptor' line (known limit)", () => {
    // Then a listing without symlinks (directories, a regular file), and one of a symlink on the
    // Sentry's own tmpfs: no complaint at all.
    const r = sh(
      'ls -l /; echo "rc=$?"; ln -s /etc /tmp/etc-link; ls -l /usr /etc/debian_version /tmp/etc-link >/dev/null 2>/tmp/plain.err; echo "plain=$? $(cat /tmp/plain.err)"',
    );
    const entries = r.stdout.split("\n").filter((l) => /^[dl-][rwxsStT-]{9}/.test(l));
    const names = entries.map((l) => l.split(/\s+/).slice(8).join(" "));
    for (const want of ["bin -> usr/bin", "lib -> usr/lib", "etc", "usr", "workspaces", "tmp"])
      assert.ok(names.includes(want), `ls -l / lists ${want}: ${names.join(", ")}`);
    // This runsc (20240729) answers lgetxattr(symlink, "security.selinux") with EBADF: the gofer
    // serves the rootfs and reads xattrs with fgetxattr on the symlink's O_PATH fd. Coreutils 9.1's
    // ls reports it and still exits 0. Fixed upstream after this release
    // (https://github.com/google/gvisor/issues/11049): a runsc with the fix makes stderr empty
    // here, and then this test and README's "Runtimes" note change together.
    const links = names.filter((n) => n.includes(" -> ")).map((n) => n.split(" -> ")[0]!);
    assert.ok(links.length >= 3, `symlinks at /: ${links.join(", ")}`);
    const complaints = r.stderr.trim().split("\n").sort();
    assert.deepEqual(complaints, links.map((l) => `ls: /${l}: Bad file descriptor`).sort());
    assert.match(r.stdout, /\nrc=0\nplain=0 \n$/);
    // The workspace is served by the same gofer, so its symlinks get the same complaint.
    const ws = sh(`ln -s /etc /workspaces/${ENV}/etc-link && ls -l /workspaces/${ENV}/etc-link`);
    assert.equal(ws.status, 0, ws.stderr);
    assert.match(ws.stdout, /etc-link -> \/etc\n$/);
    assert.equal(ws.stderr, `ls: /workspaces/${ENV}/etc-link: Bad file descriptor\n`);
  });

  it("git works in a repository (status, diff, commit)", () => {
    const r = sh(
      [
        `cd /workspaces/${ENV}`,
        "git init -q repo && cd repo",
        "git config user.email t@example.invalid && git config user.name t",
        "echo one > f && git add f && git commit -qm first",
        "git status --porcelain; echo --",
        "echo two >> f && touch new",
        "git status --porcelain",
      ].join(" && "),
    );
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, "--\n M f\n?? new\n");
  });

  it("apt-get installs a package from a local repository, reached through egress NAT", async () => {
    const list = `deb [trusted=yes] http://${REPO_IP}:${REPO_PORT}/ ./`;
    // Only this source: the image's own (the real archive) stay out of the run.
    const apt = `-o Dir::Etc::SourceList=/tmp/local.list -o Dir::Etc::SourceParts=- -o Acquire::Languages=none`;
    const r = sh(
      `echo '${list}' > /tmp/local.list && apt-get ${apt} -qq update && DEBIAN_FRONTEND=noninteractive apt-get ${apt} -qq install -y ${PKG} >/dev/null && ${PKG} && dpkg-query -W -f='\${Status}' ${PKG}`,
    );
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    assert.equal(r.stdout, `${marker}\ninstall ok installed`);
    // The server's log lines arrive once the event loop runs again (h.cli blocks it).
    const served = () => requests.some((p) => p.endsWith(`/${PKG}_1.0_all.deb`));
    for (let i = 0; i < 40 && !served(); i++) await new Promise((r) => setTimeout(r, 50));
    assert.ok(served(), `the stand-in served the .deb: ${requests.join(" ")}`);
  });

  it("npm --version runs, when the image has Node", (t) => {
    const r = sh("command -v npm >/dev/null || exit 99; npm --version");
    if (r.status === 99) {
      t.skip("the default image (Debian minbase) has no Node; nothing to run");
      return;
    }
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout.trim(), /^\d+\.\d+\.\d+$/);
  });
});
