// One conformance suite for every OCI runtime driver (containerd's SnapshotterSuite idea):
// each driver must create, start, exec, stop and delete a real user-namespaced container, and
// a fresh driver instance (a daemon restart) must find and use a running container.
// Needs root, runc/crun and busybox-static. With CI=true a missing runtime fails the suite.
import assert from "node:assert/strict";
import { randomBytes, randomInt } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { mkdir, readdir, readFile, rm, rmdir } from "node:fs/promises";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import pty from "node-pty";
import { defaultConfig, type RunnerConfig } from "../src/host/config.ts";
import {
  crunRuntime,
  gvisorRuntime,
  hostCgroupLayout,
  runcRuntime,
  writeProcessFile,
} from "../src/runtime/index.ts";
import type { Runtime } from "../src/runtime/types.ts";
import {
  buildSpec,
  capabilityMaskHex,
  DEFAULT_CAPABILITIES,
  DEFAULT_RLIMITS,
  defaultEnvSpecOptions,
  withTmpfs,
} from "../src/spec/index.ts";
import { writeBundleSpec } from "../src/spec/write.ts";
import { busyboxAvailable, makeBusyboxRootfs } from "./fixtures/busybox-rootfs.ts";

const CI = process.env["CI"] === "true";
const IS_ROOT = process.getuid?.() === 0;
const PIDS_LIMIT = 512;
const MEMORY_LIMIT = 256 * 1024 ** 2;
const EXPECTED_CAPS = capabilityMaskHex(DEFAULT_CAPABILITIES);
/** Where deliverFiles writes in this suite (the engine uses it for secrets). */
const SECRETS_TMPFS = "/run/secrets";

const DRIVERS: { name: string; make: (cfg: RunnerConfig) => Runtime }[] = [
  { name: "runc", make: (cfg) => runcRuntime(cfg) },
  { name: "crun", make: (cfg) => crunRuntime(cfg) },
  { name: "gvisor", make: (cfg) => gvisorRuntime(cfg) },
];

interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Mount points of every cgroup hierarchy (v1 controllers and the cgroup2 mount). */
function cgroupRoots(): string[] {
  return readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((l) => l.split(" "))
    .filter((f) => {
      const type = f[f.indexOf("-") + 1];
      return type === "cgroup" || type === "cgroup2";
    })
    .map((f) => f[4]!);
}

/** Kills what is left in a group tree and removes it, children first. Tolerates absence. */
async function removeCgroupTree(dir: string): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => null);
  if (!entries) return;
  for (const e of entries) if (e.isDirectory()) await removeCgroupTree(path.join(dir, e.name));
  const procs = await readFile(path.join(dir, "cgroup.procs"), "utf8").catch(() => "");
  for (const pid of procs.split("\n").filter(Boolean)) {
    try {
      process.kill(Number(pid), "SIGKILL");
    } catch {}
  }
  for (let i = 0; i < 50; i++) {
    try {
      await rmdir(dir);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
      await sleep(20);
    }
  }
}

function statusField(status: string, field: string): string {
  const m = new RegExp(`^${field}:\\s*(.*)$`, "m").exec(status);
  assert.ok(m, `${field} missing from status`);
  return m[1]!.trim();
}

for (const driver of DRIVERS) {
  const hex = randomBytes(4).toString("hex");
  const prefix = `wt${hex}`;
  const dir = `/tmp/${prefix}-${driver.name}`;
  const cfg = defaultConfig({ root: path.join(dir, "root"), runDir: path.join(dir, "run"), prefix });
  const rt = driver.make(cfg);
  const available = IS_ROOT && busyboxAvailable() && (await rt.available());
  const skip = !available && !CI ? `needs root, busybox-static and a working ${driver.name}` : false;

  describe(`runtime conformance: ${driver.name}`, { skip }, () => {
    const id = `${prefix}-${driver.name}`;
    const cgroupsPath = `/${prefix}/${id}`;
    const idMap = { hostStart: 3_000_000_000 + randomInt(0, 1000) * 65536, size: 65536 };
    const bundle = path.join(dir, "bundle");
    const logFile = path.join(dir, "console.log");
    const layoutBefore = hostCgroupLayout();
    const timings: Record<string, number> = {};
    let execCount = 0;

    async function processFile(args: string[], tty: boolean): Promise<string> {
      const file = path.join(dir, `process-${execCount++}.json`);
      const env = ["PATH=/bin", "TERM=xterm"];
      await writeProcessFile(file, {
        args,
        env,
        cwd: "/",
        uid: 0,
        gid: 0,
        tty,
        capabilities: [...DEFAULT_CAPABILITIES],
        rlimits: [...DEFAULT_RLIMITS],
      });
      return file;
    }

    async function exec(runtime: Runtime, args: string[]): Promise<ExecResult> {
      const child = runtime.spawnExec(id, await processFile(args, false));
      child.stdin?.end();
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout?.on("data", (d: Buffer) => out.push(d));
      child.stderr?.on("data", (d: Buffer) => err.push(d));
      const code = await new Promise<number>((resolve, reject) => {
        child.on("error", reject);
        child.on("close", (c, sig) => resolve(c ?? 128 + (sig === "SIGKILL" ? 9 : 15)));
      });
      return { code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
    }

    before(async () => {
      if (!available) assert.fail(`CI=true but ${driver.name} (or root, or busybox-static) is not available`);
      await mkdir(dir, { recursive: true });
      await makeBusyboxRootfs(path.join(dir, "rootfs"));
      // The read-only rootfs needs the mount point of the tmpfs that deliverFiles writes to.
      await mkdir(path.join(dir, "rootfs", SECRETS_TMPFS), { recursive: true });
      const spec = buildSpec(
        ...defaultEnvSpecOptions({
          rootfs: path.join(dir, "rootfs"),
          readonlyRootfs: true,
          tmpfsTmp: true,
          hostname: id,
          idMap,
          cgroupsPath,
          initBinary: path.join(cfg.nativeDir, "warren-init"),
          resources: {
            pids: { limit: PIDS_LIMIT },
            memory: { limit: MEMORY_LIMIT, swap: MEMORY_LIMIT },
            cpu: { quota: 50_000, period: 100_000 },
          },
        }),
        withTmpfs(SECRETS_TMPFS, { mode: "0700", sizeBytes: 1024 * 1024, extra: ["noexec"] }),
      );
      await writeBundleSpec(bundle, spec);
    });

    after(async () => {
      await rt.delete(id, true).catch(() => undefined);
      for (const root of cgroupRoots()) await removeCgroupTree(path.join(root, prefix));
      await rm(dir, { recursive: true, force: true });
    });

    it("create leaves the container in state created", async () => {
      const t0 = performance.now();
      await rt.create(id, bundle, { logFile, pidFile: path.join(dir, "init.pid") });
      timings["create"] = performance.now() - t0;
      const st = await rt.state(id);
      assert.equal(st?.status, "created");
      assert.ok(st.pid > 0);
      assert.equal(Number(await readFile(path.join(dir, "init.pid"), "utf8")), st.pid);
      assert.deepEqual(await rt.list(), [id]);
    });

    it("start runs init as the mapped (non-zero) host uid, with the resource limits", async () => {
      const t0 = performance.now();
      await rt.start(id);
      timings["start"] = performance.now() - t0;
      const st = await rt.state(id);
      assert.equal(st?.status, "running");
      const status = await readFile(`/proc/${st.pid}/status`, "utf8");
      const uids = statusField(status, "Uid").split(/\s+/).map(Number);
      assert.deepEqual(uids, [idMap.hostStart, idMap.hostStart, idMap.hostStart, idMap.hostStart]);
      const pidsRoot = layoutBefore === "v2" ? "/sys/fs/cgroup" : "/sys/fs/cgroup/pids";
      assert.equal(
        (await readFile(path.join(pidsRoot, cgroupsPath, "pids.max"), "utf8")).trim(),
        String(PIDS_LIMIT),
      );
      const memFile =
        layoutBefore === "v2"
          ? `/sys/fs/cgroup${cgroupsPath}/memory.max`
          : `/sys/fs/cgroup/memory${cgroupsPath}/memory.limit_in_bytes`;
      assert.equal((await readFile(memFile, "utf8")).trim(), String(MEMORY_LIMIT));
    });

    it("exec runs a command and passes its output and exit status through", async () => {
      const t0 = performance.now();
      const echo = await exec(rt, ["echo", "hello from", driver.name]);
      timings["exec"] = performance.now() - t0;
      assert.equal(echo.code, 0, echo.stderr);
      assert.equal(echo.stdout, `hello from ${driver.name}\n`);
      assert.equal((await exec(rt, ["sh", "-c", "exit 7"])).code, 7);
      assert.equal((await exec(rt, ["sh", "-c", "echo oops >&2; exit 3"])).stderr, "oops\n");
    });

    it("deliverFiles writes new 0400 root-owned files and replaces earlier ones", async () => {
      const t0 = performance.now();
      await rt.deliverFiles(id, SECRETS_TMPFS, [
        { name: "token", data: "first-value" },
        { name: ".env", data: Buffer.from("A='1'\n") },
      ]);
      timings["deliver"] = performance.now() - t0;
      const show = `cat ${SECRETS_TMPFS}/token; echo; stat -c '%a %u %g %F' ${SECRETS_TMPFS}/token ${SECRETS_TMPFS}/.env`;
      const first = await exec(rt, ["sh", "-c", show]);
      assert.equal(first.stdout, "first-value\n400 0 0 regular file\n400 0 0 regular file\n", first.stderr);
      await rt.deliverFiles(id, SECRETS_TMPFS, [{ name: "token", data: "second" }]);
      assert.equal((await exec(rt, ["cat", `${SECRETS_TMPFS}/token`])).stdout, "second");
    });

    it("deliverFiles never writes through a symlink, nor reaches its directory through one", async () => {
      // Root inside plants links where the next delivery goes, as a hostile environment could.
      const plant = `rm -f ${SECRETS_TMPFS}/token && ln -s /tmp/planted ${SECRETS_TMPFS}/token && ln -sf ${SECRETS_TMPFS} /tmp/link`;
      assert.equal((await exec(rt, ["sh", "-c", plant])).code, 0);
      await rt.deliverFiles(id, SECRETS_TMPFS, [{ name: "token", data: "third" }]);
      const after = await exec(rt, [
        "sh",
        "-c",
        `cat ${SECRETS_TMPFS}/token; test -L ${SECRETS_TMPFS}/token && echo LINK; test -e /tmp/planted && echo PLANTED; true`,
      ]);
      assert.equal(after.stdout, "third");
      await assert.rejects(rt.deliverFiles(id, "/tmp/link", [{ name: "via-link", data: "x" }]));
      assert.equal(
        (await exec(rt, ["test", "-e", `${SECRETS_TMPFS}/via-link`])).code,
        1,
        "written through /tmp/link",
      );
      await assert.rejects(
        rt.deliverFiles(id, SECRETS_TMPFS, [{ name: "../escape", data: "x" }]),
        /not a plain file name/,
      );
    });

    it("deliverFiles links a path elsewhere to the file, making parents, replacing nothing", async () => {
      // /tmp is this suite's writable tmpfs (the rootfs is read-only); the engine links into
      // the image's overlay the same way (e2e-secrets).
      const file = { name: "~tmp~app~conf~app.conf", data: "linked-value", link: "/tmp/app/conf/app.conf" };
      await rt.deliverFiles(id, SECRETS_TMPFS, [file]);
      const target = `${SECRETS_TMPFS}/${file.name}`;
      const show = `readlink ${file.link}; cat ${file.link}; echo; stat -L -c '%a %u' ${file.link}; stat -c '%a %u' /tmp/app /tmp/app/conf`;
      const want = `${target}\nlinked-value\n400 0\n755 0\n755 0\n`;
      assert.equal((await exec(rt, ["sh", "-c", show])).stdout, want);
      // A second start delivers again: its own symlink stays, the value is replaced.
      await rt.deliverFiles(id, SECRETS_TMPFS, [{ ...file, data: "linked-again" }]);
      assert.equal((await exec(rt, ["cat", file.link])).stdout, "linked-again");
      // What the image holds at the path, or a symlink on the way, is never replaced or followed.
      const plant = "echo image-data > /tmp/taken && ln -s /tmp/app /tmp/via && ln -s /etc/x /tmp/foreign";
      assert.equal((await exec(rt, ["sh", "-c", plant])).code, 0);
      await assert.rejects(
        rt.deliverFiles(id, SECRETS_TMPFS, [{ name: "~tmp~taken", data: "x", link: "/tmp/taken" }]),
        /\/tmp\/taken already exists/,
      );
      await assert.rejects(
        rt.deliverFiles(id, SECRETS_TMPFS, [{ name: "~tmp~foreign", data: "x", link: "/tmp/foreign" }]),
        /\/tmp\/foreign already exists/,
      );
      await assert.rejects(
        rt.deliverFiles(id, SECRETS_TMPFS, [{ name: "~tmp~via~x", data: "x", link: "/tmp/via/x" }]),
        /\/tmp\/via is a symlink/,
      );
      const after = await exec(rt, [
        "sh",
        "-c",
        "cat /tmp/taken; readlink /tmp/foreign; test -e /tmp/app/x || echo none",
      ]);
      assert.equal(after.stdout, "image-data\n/etc/x\nnone\n");
    });

    /** Skips (with the driver's reason) a check the driver declares it cannot pass. */
    function unsupported(t: { skip(reason: string): void }, capability: string): boolean {
      const reason = rt.unsupported?.[capability];
      if (reason) t.skip(`${driver.name} does not support ${capability}: ${reason}`);
      return reason !== undefined;
    }

    it("init's host process holds exactly the default 14 capabilities", async (t) => {
      if (unsupported(t, "host-process-capabilities")) return;
      const st = await rt.state(id);
      const status = await readFile(`/proc/${st?.pid}/status`, "utf8");
      assert.equal(statusField(status, "CapEff"), EXPECTED_CAPS);
      assert.equal(statusField(status, "CapBnd"), EXPECTED_CAPS);
      assert.equal(statusField(status, "CapInh"), "0000000000000000");
    });

    it("exec'd processes hold exactly the default 14 capabilities", async () => {
      const inside = await exec(rt, ["cat", "/proc/self/status"]);
      assert.equal(inside.code, 0, inside.stderr);
      assert.equal(statusField(inside.stdout, "CapEff"), EXPECTED_CAPS);
      assert.equal(statusField(inside.stdout, "CapBnd"), EXPECTED_CAPS);
    });

    it("denies new user namespaces inside", async (t) => {
      if (unsupported(t, "deny-nested-userns")) return;
      const unshare = await exec(rt, ["unshare", "-U", "true"]);
      assert.notEqual(unshare.code, 0, "unshare -U must fail");
    });

    it("denies mounts inside; the read-only rootfs rejects writes; /tmp is writable", async () => {
      const mount = await exec(rt, ["mount", "-t", "proc", "proc", "/tmp"]);
      assert.notEqual(mount.code, 0, "mount -t proc must fail");
      const root = await exec(rt, ["sh", "-c", "echo x > /etc/x"]);
      assert.notEqual(root.code, 0, "the read-only rootfs must reject writes");
      assert.equal((await exec(rt, ["sh", "-c", "echo x > /tmp/x && cat /tmp/x"])).stdout, "x\n");
    });

    it("exec with a tty works under node-pty", async () => {
      const { cmd, args } = rt.execArgs(
        id,
        await processFile(["sh", "-c", "test -t 0 && echo TTY-OK; stty size; exit 4"], true),
        true,
      );
      const term = pty.spawn(cmd, args, { cols: 91, rows: 23, env: process.env as Record<string, string> });
      let output = "";
      term.onData((d) => {
        output += d;
      });
      const exit = await new Promise<{ exitCode: number }>((resolve) => term.onExit(resolve));
      assert.match(output, /TTY-OK/);
      assert.match(output, /23 91/);
      assert.equal(exit.exitCode, 4);
    });

    it("reports whether the runtime joined a cgroup2 group (PSI)", async (t) => {
      const st = await rt.state(id);
      const line = (await readFile(`/proc/${st?.pid}/cgroup`, "utf8"))
        .split("\n")
        .find((l) => l.startsWith("0::"));
      const joined = line !== undefined && line !== "0::/";
      t.diagnostic(
        `${driver.name} on ${layoutBefore} host: unified group ${joined ? `joined (${line})` : "not joined"}`,
      );
      if (layoutBefore === "v2") assert.ok(joined, "on cgroup v2 the container must be in its own group");
    });

    it("a new driver instance (daemon restart) re-adopts the running container", async () => {
      const fresh = driver.make(cfg);
      assert.ok((await fresh.list()).includes(id));
      const before = await rt.state(id);
      const st = await fresh.state(id);
      assert.equal(st?.status, "running");
      assert.equal(st.pid, before?.pid);
      const res = await exec(fresh, ["hostname"]);
      assert.equal(res.stdout, `${id}\n`);
    });

    it("SIGTERM stops the container promptly (init handles it)", async (t) => {
      const t0 = performance.now();
      await rt.kill(id, "SIGTERM");
      let st = await rt.state(id);
      while (st?.status !== "stopped" && performance.now() - t0 < 3000) {
        await sleep(10);
        st = await rt.state(id);
      }
      const ms = performance.now() - t0;
      t.diagnostic(`${driver.name}: stopped after ${ms.toFixed(0)} ms`);
      assert.equal(st?.status, "stopped");
      assert.equal(st.pid, 0);
      await rt.kill(id, "SIGTERM"); // a no-op on a stopped container
    });

    it("delete removes the record and the container's cgroups; it is idempotent", async (t) => {
      await rt.delete(id, false);
      assert.equal(await rt.state(id), null);
      assert.deepEqual(await rt.list(), []);
      await rt.delete(id, true);
      for (const root of cgroupRoots())
        assert.ok(!existsSync(path.join(root, cgroupsPath)), `${root}${cgroupsPath} left behind`);
      assert.equal(hostCgroupLayout(), layoutBefore, "the host's cgroup mounts must be unchanged");
      const total = (timings["create"] ?? 0) + (timings["start"] ?? 0) + (timings["exec"] ?? 0);
      const parts = Object.entries(timings).map(([k, v]) => `${k} ${v.toFixed(1)} ms`);
      t.diagnostic(`${driver.name}: create+start+exec ${total.toFixed(1)} ms (${parts.join(", ")})`);
    });
  });
}
