// The runner capability suites (@warren/testing/conformance) against the real Engine on crun, called
// directly (runner-conformance.host.test.ts) or behind the wire (runner-conformance-wire.host.test.ts:
// the Engine dialled in to an in-process `warren server` over the real runner link), one file each
// to keep each under 30 s. The fake passes the same suites in testing/test/runner-conformance-fake.test.ts.
// The Engine runs on a private root, prefix, id block and subnet; a busybox image stands in for
// the base image (it has `nc` to listen with). Needs root, crun and busybox-static.
import { randomBytes, randomInt } from "node:crypto";
import { readdirSync } from "node:fs";
import { mkdir, readdir, readFile, rm, rmdir } from "node:fs/promises";
import path from "node:path";
import { after, describe } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type { ExecSession, RunnerApi } from "@warren/protocol";
import {
  buildConformance,
  execConformance,
  type FakeSubject,
  imagesConformance,
  lifecycleConformance,
  overTheWire,
  runExec,
  specMaker,
  statsConformance,
  streamsConformance,
  type WireLink,
} from "@warren/testing/conformance";
import { LayoutBuilder, named } from "@warren/testing/oci-layout";
import type { Engine } from "../src/engine/engine.ts";
import { createRunner } from "../src/engine/runner.ts";
import { run } from "../src/host/run.ts";
import { removeHostNetwork } from "../src/network/index.ts";
import { busyboxAvailable, makeBusyboxRootfs } from "./fixtures/busybox-rootfs.ts";

const CI = process.env["CI"] === "true";
const IS_ROOT = process.getuid?.() === 0;
const TAG = randomBytes(3).toString("hex");
const PREFIX = `wc${TAG}`;
const DIR = `/tmp/warren-conformance-${TAG}`;
const IMAGE = `conformance/busybox:${TAG}`;
// A private /24, so the resolver, nft table and links are this file's alone.
process.env["WARREN_SUBNET"] = `10.204.${randomInt(1, 250)}.0/24`;

const ready = IS_ROOT && busyboxAvailable();
const skip = !ready && !CI ? "needs root and busybox-static" : false;

let engine: Engine | undefined;
let layout: string | undefined;
let link: WireLink | undefined;
let slot = 0;
let imports = 0;
/** Echo servers started with listen(), ended before their environments go. */
const servers: ExecSession[] = [];

/** One Engine for the whole file; its image is imported once. */
const engineOnce = (() => {
  let p: Promise<Engine> | undefined;
  return () => {
    p ??= (async () => {
      await mkdir(DIR, { recursive: true });
      const e = await createRunner({
        root: path.join(DIR, "root"),
        runDir: path.join(DIR, "run"),
        prefix: PREFIX,
        imagesDir: path.join(DIR, "images"),
        idRange: { start: 3_300_000_000 + randomInt(0, 200) * 65536 * 32, size: 65536 * 32 },
      });
      engine = e;
      if (!e.ctx.runtimes.has("crun")) throw new Error("crun is not available on this host");
      const rootfs = path.join(DIR, "image-rootfs");
      await makeBusyboxRootfs(rootfs);
      const tar = path.join(DIR, "layer.tar");
      await run("tar", ["-cf", tar, "--numeric-owner", "-C", rootfs, "."]);
      const builder = new LayoutBuilder(path.join(DIR, "layout"));
      const img = await builder.image([await readFile(tar)], { compression: "none", cmd: ["/bin/sh"] });
      layout = await builder.write([named(img.manifest, IMAGE)]);
      await e.importImage(layout, IMAGE, () => {});
      return e;
    })();
    return p;
  };
})();

/** The Engine's one link to an in-process server, made before any environment (attach sweeps). */
const linkOnce = (() => {
  let p: Promise<WireLink> | undefined;
  return async () => {
    const e = await engineOnce();
    p ??= overTheWire(e).then((l) => {
      link = l;
      return l;
    });
    return p;
  };
})();

async function subject(api: RunnerApi): Promise<FakeSubject> {
  const e = await engineOnce();
  const specs = specMaker({
    tag: randomBytes(3).toString("hex"),
    image: IMAGE,
    runtime: "crun",
    nextSlot: () => slot++,
  });
  return {
    api,
    runtime: "crun",
    image: IMAGE,
    envSpec: specs.envSpec,
    exitWith: (code) => ["sh", "-c", `exit ${code}`],
    async importable() {
      imports++;
      return { path: layout!, ref: `conformance/imported-${TAG}:${imports}` };
    },
    // The kernel names a process after the file it executed: busybox's nc link.
    listenerProcess: "nc",
    async writeFiles(id, files) {
      for (const [file, text] of Object.entries(files)) {
        const r = await runExec(e, id, ["sh", "-c", 'mkdir -p "$(dirname "$1")" && cat > "$1"', "sh", file], {
          stdin: [text],
        });
        if (r.code !== 0) throw new Error(`write ${file}: ${r.stderr}`);
      }
    },
    async listen(id, port) {
      // busybox nc: -ll keeps listening after each connection, -e cat echoes each one.
      servers.push(
        await e.exec(
          id,
          { cmd: ["nc", "-ll", "-p", String(port), "-e", "cat"], tty: false },
          { stdout: () => {}, stderr: () => {}, exit: () => {} },
        ),
      );
      // Ready once a dial is accepted (the server is up before the suite's first dial).
      for (let i = 0; ; i++) {
        const sock = await e.dial(id, port).catch((err: unknown) => {
          if (i >= 100) throw err;
          return undefined;
        });
        if (sock) {
          sock.destroy();
          return;
        }
        await sleep(20);
      }
    },
    async cleanup() {
      for (const s of servers.splice(0)) s.signal("SIGKILL");
      await specs.removeAll(e);
    },
  };
}

/** Kills what is left in a group tree and removes it, children first. Tolerates absence. */
export async function removeCgroupTree(dir: string): Promise<void> {
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

/** Registers the five suites against the Engine called directly, or behind the wire. */
export function engineConformance(how: "direct" | "wire"): void {
  after(async () => {
    await link?.close().catch(() => undefined);
    if (engine) {
      // Anything a failed suite left: every environment on this private root.
      await engine.sweep(new Set()).catch(() => undefined);
      await engine.close();
      await removeHostNetwork(engine.ctx.cfg).catch(() => undefined);
    }
    for (const ctrl of readdirSync("/sys/fs/cgroup"))
      await removeCgroupTree(path.join("/sys/fs/cgroup", ctrl, PREFIX));
    await rm(DIR, { recursive: true, force: true });
  });

  const make =
    how === "direct"
      ? async () => subject(await engineOnce())
      : async () => subject((await linkOnce()).remote);
  const name = how === "direct" ? "Engine (crun)" : "Engine (crun) behind the wire";
  describe(`runner capability conformance: ${name}`, { skip }, () => {
    lifecycleConformance(name, make);
    execConformance(name, make);
    imagesConformance(name, make);
    streamsConformance(name, make);
    statsConformance(name, make);
    buildConformance(name, make);
  });
}
