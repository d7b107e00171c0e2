// The SSH gateway's file and socket plumbing against real environments on runc, crun and gVisor:
// warren-relay (bound read-only at /.warren/relay) run through the runtime's exec, the gateway's
// exec-duplex and relay demux around it, the sftp subsystem, and the refusals. Every path is
// resolved inside the environment, so links to host sockets and files reach nothing of the host.
import assert from "node:assert/strict";
import { randomBytes, randomInt } from "node:crypto";
import { existsSync, readdirSync, rmdirSync } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import { Duplex, PassThrough } from "node:stream";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { DEFAULT_IMAGE, type RunnerEnvSpec, type RuntimeName } from "@warren/protocol";
import { createRunner, type Engine, removeHostNetwork } from "@warren/runner";
import { baseCacheDir, buildBaseImageCached } from "@warren/testing/oci-layout";
import type { ServerChannel } from "ssh2";
import { execDuplex } from "../src/ingress/exec-duplex.ts";
import { startAgentForward } from "../src/ingress/ssh-agent-forward.ts";
import type { SshEnvTarget } from "../src/ingress/ssh-context.ts";
import { NO_SFTP_MESSAGE, serveSftp } from "../src/ingress/ssh-sftp.ts";
import { dialUnixInEnv } from "../src/ingress/ssh-streamlocal.ts";
import { silentLogger } from "../src/logger.ts";

const CI = process.env["CI"] === "true";
const TAG = randomBytes(3).toString("hex");
const PREFIX = `wt${TAG}`;
const DIR = `/tmp/warren-relay-${TAG}`;
process.env["WARREN_SUBNET"] = `10.204.${randomInt(1, 250)}.0/24`;
const RUNTIMES: RuntimeName[] = ["runc", "crun", "gvisor"];

let engine: Engine;
const envs: string[] = [];

function targetFor(id: string): SshEnvTarget {
  return {
    envId: id,
    envName: `relay-${id}`,
    orgId: "org",
    actor: {} as SshEnvTarget["actor"],
    keyId: "key",
    exec: (req, h) => engine.exec(id, req, h),
    dial: (port, host) => engine.dial(id, port, host),
  };
}

async function sh(target: SshEnvTarget, script: string): Promise<{ code: number; out: string; err: string }> {
  let err = "";
  const p = await execDuplex(
    target,
    { cmd: ["/bin/sh", "-c", script], tty: false },
    {
      onStderr: (d) => {
        err += Buffer.from(d).toString();
      },
    },
  );
  p.stream.end();
  let out = "";
  for await (const c of p.stream) out += String(c);
  return { code: await p.exit, out, err };
}

/** Sends `data`, half-closes, and collects everything the other side sends until it ends. */
async function roundTrip(s: NodeJS.ReadWriteStream, data: Buffer): Promise<Buffer> {
  const got: Buffer[] = [];
  const done = new Promise<void>((resolve, reject) => {
    s.on("data", (c: Buffer) => got.push(c));
    s.once("end", resolve);
    s.once("error", reject);
  });
  s.end(data);
  await done;
  return Buffer.concat(got);
}

before(async () => {
  await mkdir(DIR, { recursive: true });
  // Takes the shared cache's lock and builds the base again if its package list changed.
  await buildBaseImageCached(path.join(DIR, "img"));
  engine = await createRunner({
    root: path.join(DIR, "root"),
    runDir: path.join(DIR, "run"),
    prefix: PREFIX,
    imagesDir: path.join(baseCacheDir(), "images"),
    idRange: { start: 4_100_000_000 + randomInt(0, 20) * 65536 * 8, size: 65536 * 8 },
  });
});

after(async () => {
  for (const id of envs) await engine?.remove(id).catch(() => undefined);
  await engine?.close();
  if (engine) await removeHostNetwork(engine.ctx.cfg).catch(() => undefined);
  for (const ctrl of readdirSync("/sys/fs/cgroup")) {
    const d = path.join("/sys/fs/cgroup", ctrl, PREFIX);
    if (existsSync(d)) rmdirSync(d);
  }
  await rm(DIR, { recursive: true, force: true });
});

for (const [i, runtime] of RUNTIMES.entries()) {
  describe(`warren-relay on ${runtime}`, () => {
    let target: SshEnvTarget;
    before(async () => {
      const id = `${TAG}relay${i}`;
      envs.push(id);
      const spec: RunnerEnvSpec = {
        id,
        name: `relay-${runtime}`,
        slot: i + 1,
        image: DEFAULT_IMAGE,
        runtime,
        resources: { cpus: 1, memoryBytes: 512 * 1024 ** 2, diskBytes: 256 * 1024 ** 2, pids: 512 },
      };
      if (!engine.ctx.runtimes.has(runtime)) return;
      await engine.ensureRunning(spec);
      target = targetFor(id);
    });

    it("is in the environment read-only; two connections through a forwarded socket stay apart", async (t) => {
      if (!target) {
        if (CI) assert.fail(`${runtime} is not available on this runner`);
        return t.skip(`${runtime} is not available here`);
      }
      const ro = await sh(
        target,
        "test -x /.warren/relay && ! (echo x >> /.warren/relay) 2>/dev/null && echo ro",
      );
      assert.equal(ro.out.trim(), "ro", `the relay is there and read-only: ${ro.err}`);

      // Each agent channel echoes what it gets: the client's agent, as far as the relay can tell.
      let channels = 0;
      const fwd = await startAgentForward(
        target,
        async () => {
          channels++;
          return new PassThrough();
        },
        silentLogger,
      );
      assert.match(fwd.socketPath, /^\/tmp\/warren-agent-[0-9a-f]{16}\/agent\.sock$/);
      const modes = await sh(
        target,
        `stat -c '%a %F' ${path.posix.dirname(fwd.socketPath)} ${fwd.socketPath}`,
      );
      assert.equal(
        modes.out,
        "700 directory\n600 socket\n",
        "only the environment's user reaches the socket",
      );

      const a = randomBytes(3 * 1024 * 1024 + 17);
      const b = randomBytes(200_000);
      const [ca, cb] = await Promise.all([
        dialUnixInEnv(target, fwd.socketPath),
        dialUnixInEnv(target, fwd.socketPath),
      ]);
      const [ra, rb] = await Promise.all([roundTrip(ca, a), roundTrip(cb, b)]);
      assert.equal(channels, 2, "one agent channel per connection");
      assert.ok(ra.equals(a), `connection 1 got its own ${a.length} bytes back (got ${ra.length})`);
      assert.ok(rb.equals(b), `connection 2 got its own ${b.length} bytes back (got ${rb.length})`);

      fwd.close();
      for (let n = 0; n < 50; n++) {
        if ((await sh(target, `test -e ${path.posix.dirname(fwd.socketPath)} || echo gone`)).out === "gone\n")
          break;
        await sleep(100);
      }
      const left = await sh(target, `test -e ${path.posix.dirname(fwd.socketPath)} || echo gone`);
      assert.equal(left.out, "gone\n", "close() removes the socket and its directory");
    });

    it("refuses clearly; links to the host's sockets and files reach nothing of the host", async (t) => {
      if (!target) return t.skip(`${runtime} is not available here`);
      await assert.rejects(
        dialUnixInEnv(target, "/tmp/none.sock"),
        /connect \/tmp\/none\.sock.*No such file/,
      );
      await assert.rejects(dialUnixInEnv(target, "relative.sock"), /absolute path/);
      await sh(target, "echo plain > /tmp/plain");
      await assert.rejects(dialUnixInEnv(target, "/tmp/plain"), /Connection refused/);
      const squat = await sh(target, "/.warren/relay listen /tmp/plain </dev/null");
      assert.equal(squat.code, 1);
      assert.match(squat.err, /\/tmp\/plain exists and is not a socket of this user/);
      assert.equal((await sh(target, "cat /tmp/plain")).out, "plain\n", "the file it refused is untouched");

      // A unix socket on the host, and a link to it (and to the daemon's default socket) inside.
      let hits = 0;
      const hostSock = path.join(DIR, `host-${runtime}.sock`);
      const server = net.createServer((c) => {
        hits++;
        c.end("host secret\n");
      });
      await new Promise<void>((r) => server.listen(hostSock, r));
      t.after(() => new Promise((r) => server.close(r)));
      await sh(target, `ln -sf ${hostSock} /tmp/to-host; ln -sf /run/warren/warren.sock /tmp/to-daemon`);
      await assert.rejects(dialUnixInEnv(target, "/tmp/to-host"), /No such file/);
      await assert.rejects(dialUnixInEnv(target, "/tmp/to-daemon"), /No such file/);
      assert.equal(hits, 0, "no connection reached the host's socket");
    });

    it("serves sftp from the image's sftp-server, and says so when the image has none", async (t) => {
      if (!target) return t.skip(`${runtime} is not available here`);
      // SSH_FXP_INIT version 3 -> SSH_FXP_VERSION: sftp-server answered over the channel.
      const init = Buffer.from([0, 0, 0, 5, 1, 0, 0, 0, 3]);
      const ch = fakeChannel();
      serveSftp(target, ch.channel, silentLogger);
      ch.client.write(init);
      const reply = await ch.firstBytes(9);
      assert.equal(reply[4], 2, "SSH_FXP_VERSION");
      assert.equal(reply.readUInt32BE(5), 3);
      ch.client.end();
      assert.equal(await ch.status, 0, "sftp-server's exit status is passed on");

      // Without one (moved away in this environment only), a clear message and 127.
      await sh(target, "mv /usr/lib/openssh/sftp-server /usr/lib/openssh/sftp-server.off");
      t.after(() => sh(target, "mv /usr/lib/openssh/sftp-server.off /usr/lib/openssh/sftp-server"));
      const none = fakeChannel();
      serveSftp(target, none.channel, silentLogger);
      assert.equal(await none.status, 127);
      assert.equal(none.stderr(), NO_SFTP_MESSAGE);
    });
  });
}

/** Just enough of ssh2's ServerChannel for serveSftp: a duplex to the client, its stderr and exit(). */
function fakeChannel() {
  const toClient = new PassThrough();
  let errText = "";
  const stderr = new PassThrough();
  stderr.on("data", (d: Buffer) => {
    errText += d.toString();
  });
  let exited!: (code: number) => void;
  const status = new Promise<number>((r) => {
    exited = r;
  });
  const duplex = new Duplex({
    read() {},
    write(c: Buffer, _e, cb) {
      toClient.write(c, cb);
    },
    final(cb) {
      toClient.end();
      cb();
    },
  });
  const channel = Object.assign(duplex, {
    stderr,
    exit: (code: number) => exited(code),
  }) as unknown as ServerChannel;
  return {
    channel,
    client: { write: (b: Buffer) => duplex.push(b), end: () => duplex.push(null) },
    status,
    stderr: () => errText,
    firstBytes(n: number): Promise<Buffer> {
      let buf = Buffer.alloc(0);
      return new Promise((resolve) => {
        toClient.on("data", (c: Buffer) => {
          buf = Buffer.concat([buf, c]);
          if (buf.length >= n) resolve(buf);
        });
        toClient.once("end", () => resolve(buf));
      });
    },
  };
}
