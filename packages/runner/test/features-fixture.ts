// Shared setup for the Features host tests: an Engine on a private root, prefix, id block and
// subnet with a busybox image, one running environment to hold a repository, helpers to run
// commands in it and to write files into it, and a cleanup that removes everything even when
// a test failed halfway. Needs root, crun and busybox-static.
import { randomBytes, randomInt } from "node:crypto";
import { readdirSync } from "node:fs";
import { mkdir, readFile, rm } from "node:fs/promises";
import path from "node:path";
import { LayoutBuilder, named } from "@warren/testing/oci-layout";
import type { Engine } from "../src/engine/engine.ts";
import { createRunner } from "../src/engine/runner.ts";
import { run } from "../src/host/run.ts";
import { removeHostNetwork } from "../src/network/index.ts";
import { busyboxAvailable, makeBusyboxRootfs } from "./fixtures/busybox-rootfs.ts";
import { removeCgroupTree } from "./runner-conformance-engine.ts";

export const IS_ROOT = process.getuid?.() === 0;
export const featuresReady = IS_ROOT && busyboxAvailable();

export interface FeaturesFixture {
  engine: Engine;
  envId: string;
  image: string;
  repoRoot: string;
  sh(script: string, stdin?: string | Buffer): Promise<{ code: number; stdout: string; stderr: string }>;
  /** Writes files (relative to repoRoot) inside the environment. */
  writeRepo(files: Record<string, string>): Promise<void>;
  cleanup(): Promise<void>;
}

export async function featuresFixture(opts: { registryAllow?: string } = {}): Promise<FeaturesFixture> {
  const tag = randomBytes(3).toString("hex");
  const prefix = `wf${tag}`;
  const dir = `/tmp/warren-features-${tag}`;
  const image = `features-test/busybox:${tag}`;
  process.env["WARREN_SUBNET"] ??= `10.205.${randomInt(1, 250)}.0/24`;
  let engine: Engine | undefined;
  const envId = `${tag}${"0".repeat(6)}`;
  const cleanup = async () => {
    if (engine) {
      await engine.remove(envId).catch(() => undefined);
      await engine.sweep(new Set()).catch(() => undefined);
      await engine.close();
      await removeHostNetwork(engine.ctx.cfg).catch(() => undefined);
    }
    for (const ctrl of readdirSync("/sys/fs/cgroup"))
      await removeCgroupTree(path.join("/sys/fs/cgroup", ctrl, prefix));
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await mkdir(dir, { recursive: true });
    engine = await createRunner({
      root: path.join(dir, "root"),
      runDir: path.join(dir, "run"),
      prefix,
      imagesDir: path.join(dir, "images"),
      idRange: { start: 3_400_000_000 + randomInt(0, 200) * 65536 * 8, size: 65536 * 8 },
      ...(opts.registryAllow ? { registryAllow: opts.registryAllow } : {}),
    });
    if (!engine.ctx.runtimes.has("crun")) throw new Error("crun is not available on this host");
    const rootfs = path.join(dir, "image-rootfs");
    await makeBusyboxRootfs(rootfs);
    const tar = path.join(dir, "layer.tar");
    await run("tar", ["-cf", tar, "--numeric-owner", "-C", rootfs, "."]);
    const builder = new LayoutBuilder(path.join(dir, "layout"));
    const img = await builder.image([await readFile(tar)], { compression: "none", cmd: ["/bin/sh"] });
    await engine.importImage(await builder.write([named(img.manifest, image)]), image, () => {});
    await engine.ensureRunning({
      id: envId,
      name: `feat${tag}`,
      slot: 0,
      image,
      runtime: "crun",
      resources: { cpus: 1, memoryBytes: 256 * 1024 ** 2, diskBytes: 256 * 1024 ** 2, pids: 512 },
    });
  } catch (err) {
    await cleanup();
    throw err;
  }
  const e = engine;
  const repoRoot = `/workspaces/feat${tag}/repo`;
  const sh: FeaturesFixture["sh"] = (script, stdin) =>
    new Promise((resolve, reject) => {
      let stdout = "";
      let stderr = "";
      e.exec(
        envId,
        { cmd: ["sh", "-c", script], tty: false, cwd: "/" },
        {
          stdout: (d) => {
            stdout += Buffer.from(d).toString();
          },
          stderr: (d) => {
            stderr += Buffer.from(d).toString();
          },
          exit: (code) => resolve({ code, stdout, stderr }),
          error: reject,
        },
      ).then((s) => {
        if (stdin !== undefined) s.stdin(typeof stdin === "string" ? Buffer.from(stdin) : stdin);
        s.endStdin();
      }, reject);
    });
  return {
    engine: e,
    envId,
    image,
    repoRoot,
    sh,
    async writeRepo(files) {
      for (const [rel, text] of Object.entries(files)) {
        const p = path.posix.join(repoRoot, rel);
        const r = await sh(`mkdir -p "${path.posix.dirname(p)}" && cat > "${p}" && chmod 755 "${p}"`, text);
        if (r.code !== 0) throw new Error(`writing ${p} in the environment: ${r.stderr}`);
      }
    },
    cleanup,
  };
}

/** A local Feature's files: devcontainer-feature.json and an install.sh that leaves a marker. */
export function featureFiles(
  id: string,
  extra: Record<string, unknown> = {},
  install = `#!/bin/sh\nset -e\nmkdir -p /markers\nn=$(ls /markers | wc -l)\necho "$n ${id} $(env | grep -E '^(GREETING|_REMOTE_USER|_CONTAINER_USER)=' | sort | tr '\\n' ' ')" > /markers/${id}\n`,
): Record<string, string> {
  return {
    "devcontainer-feature.json": JSON.stringify({ id, version: "1.0.0", name: `Feature ${id}`, ...extra }),
    "install.sh": install,
  };
}
