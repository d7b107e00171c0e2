// Local git servers for tests that clone from inside environments. Environments cannot reach the
// host's loopback (by design), so the servers run in a network namespace the fixture makes,
// reached from the host by a veth and from environments through the runner's NAT, like the
// egress tests' stand-in internet; nothing goes near the host's main interface.
// - `git daemon` (git://ADDR/NAME.git) serves the public repositories (git-daemon-export-ok);
// - git's smart HTTP backend (/usr/lib/git-core/git-http-backend as CGI) behind HTTP basic auth
//   (http://ADDR:8080/NAME.git) serves every repository, private ones included, to the one user
//   the fixture made. Its request log says who asked for what and how it was answered.
// Repositories are bare repos on the host's disk, made by the test with the host's git.
// cleanup() ends the servers (by process group), removes the netns, the veth and the files.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { randomBytes, randomInt } from "node:crypto";
import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";

const exec = promisify(execFile);
export const GIT_DAEMON_PORT = 9418;
export const GIT_HTTP_PORT = 8080;
const HTTP_BACKEND = "/usr/lib/git-core/git-http-backend";

// A threaded HTTP server that checks basic auth, then runs git-http-backend as CGI. Each request
// is logged on stdout as "METHOD PATH USER STATUS" (USER "-" when none was accepted).
const HTTP_SERVER = `
import base64, http.server, os, socketserver, subprocess, sys, time
root, host, port, user, delay = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], float(sys.argv[5])
# On stdin, so the password is in no process's argv or environment (tests search those for it).
password = sys.stdin.readline().strip()
BACKEND = "${HTTP_BACKEND}"
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    def log_message(self, *a): pass
    def record(self, who, status):
        print(self.command, self.path.split("?")[0], who, status, flush=True)
    def handle_any(self):
        auth = self.headers.get("Authorization", "")
        ok = False
        if auth.startswith("Basic "):
            try: ok = base64.b64decode(auth[6:]).decode() == user + ":" + password
            except Exception: ok = False
        if not ok:
            self.send_response(401); self.send_header("WWW-Authenticate", 'Basic realm="warren-test"')
            self.send_header("Content-Length", "0"); self.end_headers(); self.record("-", 401); return
        if delay: time.sleep(delay)
        p, _, q = self.path.partition("?")
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "GIT_PROJECT_ROOT": root, "GIT_HTTP_EXPORT_ALL": "1",
               "REQUEST_METHOD": self.command, "PATH_INFO": p, "QUERY_STRING": q, "REMOTE_USER": user,
               "REMOTE_ADDR": self.client_address[0], "CONTENT_TYPE": self.headers.get("Content-Type", ""),
               "CONTENT_LENGTH": str(len(body)), "GATEWAY_INTERFACE": "CGI/1.1", "SERVER_PROTOCOL": "HTTP/1.0"}
        if self.headers.get("Content-Encoding"): env["HTTP_CONTENT_ENCODING"] = self.headers["Content-Encoding"]
        if self.headers.get("Git-Protocol"): env["GIT_PROTOCOL"] = self.headers["Git-Protocol"]
        out = subprocess.run([BACKEND], input=body, env=env, capture_output=True).stdout
        head, _, rest = out.partition(b"\\r\\n\\r\\n")
        if not rest and b"\\n\\n" in out: head, _, rest = out.partition(b"\\n\\n")
        status = 200
        headers = []
        for line in head.decode("latin-1").splitlines():
            k, _, v = line.partition(":")
            if k.lower() == "status": status = int(v.strip().split()[0])
            elif k: headers.append((k, v.strip()))
        self.send_response(status)
        for k, v in headers: self.send_header(k, v)
        self.send_header("Content-Length", str(len(rest))); self.end_headers(); self.wfile.write(rest)
        self.record(user, status)
    do_GET = handle_any
    do_POST = handle_any
class S(http.server.ThreadingHTTPServer):
    # HTTPServer's own server_bind looks its address up in DNS (getfqdn): no query leaves here.
    def server_bind(self):
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = host, port
s = S((host, port), H)
print("ready", flush=True)
s.serve_forever()
`;

export interface GitRequest {
  method: string;
  path: string;
  /** The user whose credentials were accepted, or "-" when none were. */
  user: string;
  status: number;
}

export interface GitServers {
  /** The servers' address, inside their netns (reached through NAT from environments). */
  addr: string;
  /** The one HTTP user and password. */
  user: string;
  password: string;
  gitUrl(name: string): string;
  httpUrl(name: string): string;
  /** A git-credential-store line for the HTTP server (what a git-credentials secret holds). */
  credentialLine(): string;
  /**
   * Makes a bare repository NAME.git holding one commit of `files` on `branch` (default main);
   * public ones are also served over git://. Returns the commit id.
   */
  createRepo(
    name: string,
    files: Record<string, string>,
    o?: { private?: boolean; branch?: string },
  ): Promise<string>;
  /** The HTTP server's requests so far. */
  httpRequests(): GitRequest[];
  cleanup(): Promise<void>;
}

export interface GitServersOptions {
  /** Seconds the HTTP server waits before answering each authenticated request (to watch a clone run). */
  httpDelaySeconds?: number;
}

async function sh(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
  return exec(cmd, args, { ...opts, maxBuffer: 16 * 1024 * 1024 });
}

/** Starts both servers in a fresh netns. Needs root, `ip`, git and python3. */
export async function startGitServers(o: GitServersOptions = {}): Promise<GitServers> {
  const tag = randomBytes(3).toString("hex");
  const ns = `wgit-${tag}`;
  const link = `wg${tag}`;
  const third = randomInt(1, 250);
  const hostIp = `10.207.${third}.1`;
  const addr = `10.207.${third}.2`;
  const dir = await mkdtemp(path.join(os.tmpdir(), "warren-git-"));
  const root = path.join(dir, "repos");
  const user = "warren-test";
  const password = `pw-${randomBytes(12).toString("hex")}`;
  const procs: ChildProcess[] = [];
  const requests: GitRequest[] = [];
  const undo: (() => Promise<unknown>)[] = [];
  /** The servers' stderr, the last of it, for a start that fails. */
  let errors = "";

  const cleanup = async () => {
    for (const p of procs) {
      if (p.exitCode === null && p.signalCode === null && p.pid) {
        try {
          process.kill(-p.pid, "SIGKILL");
        } catch {}
      }
    }
    for (const fn of undo.reverse()) await fn().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  };

  try {
    await chmod(dir, 0o755);
    await mkdir(root, { mode: 0o755 });
    undo.push(() => sh("ip", ["netns", "del", ns]));
    undo.push(() => sh("ip", ["link", "del", link]));
    await sh("ip", ["netns", "add", ns]);
    await sh("ip", ["link", "add", link, "type", "veth", "peer", "name", "eth0", "netns", ns]);
    await sh("ip", ["addr", "add", `${hostIp}/30`, "dev", link]);
    await sh("ip", ["link", "set", link, "up"]);
    for (const args of [
      ["link", "set", "lo", "up"],
      ["link", "set", "eth0", "up"],
      ["addr", "add", `${addr}/30`, "dev", "eth0"],
      ["route", "add", "default", "via", hostIp],
    ]) {
      await sh("ip", ["-n", ns, ...args]);
    }
    const inNs = (cmd: string[], onLine?: (l: string) => void, stdin?: string) => {
      const p = spawn("nsenter", [`--net=/run/netns/${ns}`, ...cmd], {
        stdio: [stdin === undefined ? "ignore" : "pipe", "pipe", "pipe"],
        detached: true,
      });
      if (stdin !== undefined) p.stdin!.end(stdin);
      procs.push(p);
      let buf = "";
      p.stdout!.on("data", (d: Buffer) => {
        buf += d.toString();
        const lines = buf.split("\n");
        buf = lines.pop()!;
        for (const l of lines) onLine?.(l);
      });
      p.stderr!.on("data", (d: Buffer) => {
        errors = (errors + d.toString()).slice(-2000);
      });
      return p;
    };
    inNs([
      "git",
      "daemon",
      "--reuseaddr",
      `--listen=${addr}`,
      `--port=${GIT_DAEMON_PORT}`,
      `--base-path=${root}`,
      "--informative-errors",
      root,
    ]);
    inNs(
      [
        "/usr/bin/python3",
        "-c",
        HTTP_SERVER,
        root,
        addr,
        String(GIT_HTTP_PORT),
        user,
        String(o.httpDelaySeconds ?? 0),
      ],
      (l) => {
        const [method, p, who, status] = l.split(" ");
        if (l !== "ready" && method && p && who && status) {
          requests.push({ method, path: p, user: who, status: Number(status) });
        }
      },
      `${password}\n`,
    );
    await Promise.all([waitForPort(addr, GIT_DAEMON_PORT), waitForPort(addr, GIT_HTTP_PORT)]);
  } catch (err) {
    await cleanup();
    throw errors ? new Error(`${(err as Error).message}; the servers said: ${errors}`) : err;
  }

  let made = 0;
  return {
    addr,
    user,
    password,
    gitUrl: (name) => `git://${addr}/${name}.git`,
    httpUrl: (name) => `http://${addr}:${GIT_HTTP_PORT}/${name}.git`,
    credentialLine: () => `http://${user}:${password}@${addr}:${GIT_HTTP_PORT}`,
    async createRepo(name, files, ro = {}) {
      const branch = ro.branch ?? "main";
      const bare = path.join(root, `${name}.git`);
      const work = path.join(dir, `work-${made++}`);
      const env = {
        ...process.env,
        GIT_AUTHOR_NAME: "Warren Test",
        GIT_AUTHOR_EMAIL: "test@warren.invalid",
        GIT_COMMITTER_NAME: "Warren Test",
        GIT_COMMITTER_EMAIL: "test@warren.invalid",
        GIT_CONFIG_NOSYSTEM: "1",
        HOME: dir,
      };
      await sh("git", ["init", "-q", "--bare", "-b", branch, bare], { env });
      await sh("git", ["init", "-q", "-b", branch, work], { env });
      for (const [rel, text] of Object.entries(files)) {
        const p = path.join(work, rel);
        await mkdir(path.dirname(p), { recursive: true });
        await writeFile(p, text, { mode: rel.endsWith(".sh") || rel === "install" ? 0o755 : 0o644 });
      }
      await sh("git", ["add", "-A"], { cwd: work, env });
      await sh("git", ["commit", "-q", "-m", "test content"], { cwd: work, env });
      await sh("git", ["push", "-q", bare, `${branch}:${branch}`], { cwd: work, env });
      if (!ro.private) await writeFile(path.join(bare, "git-daemon-export-ok"), "");
      await rm(work, { recursive: true, force: true });
      return (await sh("git", ["rev-parse", branch], { cwd: bare, env })).stdout.trim();
    },
    httpRequests: () => [...requests],
    cleanup,
  };
}

async function waitForPort(host: string, port: number): Promise<void> {
  for (let i = 0; ; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host, port });
      s.once("connect", () => {
        s.destroy();
        resolve(true);
      });
      s.once("error", () => resolve(false));
    });
    if (ok) return;
    if (i >= 100) throw new Error(`git test server ${host}:${port} did not start within 5 s`);
    await sleep(50);
  }
}
