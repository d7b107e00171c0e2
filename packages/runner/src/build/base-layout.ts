// Images in Warren's store, handed to buildah as local OCI layouts (`FROM oci:DIR:base`), so that
// buildah never fetches a base image itself: every base came in through Warren's registry client
// (its address guard and digest checks) or `warren image import`. The store keeps unpacked
// layers, not blobs, so a base is exported once per image digest: its merged view (one layer;
// overlayfs resolves the whiteouts) tarred by host tar with numeric owners (layers on disk hold
// ids 0..65535). `layers.json` remembers which store layers the exported layer stands for, so a
// built image that starts with it is recorded on the original layers, not a second copy.

import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { wrap } from "@warren/protocol";
import { run } from "../host/run.ts";
import type { ImageStore } from "../storage/image-store.ts";
import type { ImageRecord } from "../storage/layer-store.ts";

export const BASE_REF_NAME = "base";

export interface BaseLayout {
  /** The OCI layout directory (index.json names the image "base"). */
  dir: string;
  /** The exported layer's diffid and the store layers it stands for, lowest first. */
  diffId: string;
  storeLayers: string[];
}

export function basesDir(store: ImageStore): string {
  return path.join(store.dir, "build-bases");
}

/** The layout of `ref` (in the store), made on first use. */
export async function baseLayout(store: ImageStore, ref: string): Promise<BaseLayout> {
  const rec = await store.readRecord(ref);
  await store.verify(ref);
  const key = createHash("sha256")
    .update(JSON.stringify([rec.digest, rec.layers]))
    .digest("hex");
  const dir = path.join(basesDir(store), key);
  const have = await readLayers(dir);
  if (have) return have;
  await fs.mkdir(basesDir(store), { recursive: true, mode: 0o700 });
  const tmp = path.join(basesDir(store), `.${process.pid}.${randomBytes(6).toString("hex")}.tmp`);
  try {
    await exportLayout(store, rec, tmp);
    await fs.rename(tmp, dir).catch(async (err: NodeJS.ErrnoException) => {
      // A concurrent build exported the same base first: theirs is as good.
      if (err.code !== "EEXIST" && err.code !== "ENOTEMPTY") throw err;
    });
  } catch (err) {
    throw wrap(`export base image ${ref} for the build`, err);
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
  const made = await readLayers(dir);
  if (!made) throw new Error(`export base image ${ref}: ${dir} is incomplete`);
  return made;
}

async function readLayers(dir: string): Promise<BaseLayout | null> {
  try {
    const m = JSON.parse(await fs.readFile(path.join(dir, "layers.json"), "utf8")) as {
      diffId: string;
      storeLayers: string[];
    };
    return { dir: path.join(dir, "layout"), diffId: m.diffId, storeLayers: m.storeLayers };
  } catch {
    return null;
  }
}

async function exportLayout(store: ImageStore, rec: ImageRecord, tmp: string): Promise<void> {
  const layout = path.join(tmp, "layout");
  const blobs = path.join(layout, "blobs", "sha256");
  await fs.mkdir(blobs, { recursive: true, mode: 0o700 });
  const dirs = rec.layers.map((l) => store.layerDir(l));
  let src = dirs[0] as string;
  const mnt = path.join(tmp, "merged");
  if (dirs.length > 1) {
    await fs.mkdir(mnt);
    // Read-only overlay of the layers alone: the merged view, whiteouts applied.
    const lower = [...dirs].reverse().join(":");
    await run("mount", ["-t", "overlay", "overlay", "-o", `ro,nodev,nosuid,lowerdir=${lower}`, mnt]);
    src = mnt;
  }
  let layer: { digest: string; size: number };
  try {
    layer = await tarToBlob(src, path.join(tmp, "layer.tar"));
  } finally {
    if (dirs.length > 1) await run("umount", [mnt], { allowFail: true });
  }
  await fs.rename(path.join(tmp, "layer.tar"), path.join(blobs, layer.digest.slice(7)));
  const c = rec.config;
  const config = {
    architecture: "amd64",
    os: "linux",
    config: {
      Env: c.env,
      Cmd: c.cmd,
      WorkingDir: c.workingDir,
      ...(c.user ? { User: c.user } : {}),
      ...(c.labels ? { Labels: c.labels } : {}),
    },
    rootfs: { type: "layers", diff_ids: [layer.digest] },
  };
  const cfg = await writeBlob(blobs, config);
  const manifest = await writeBlob(blobs, {
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: { mediaType: "application/vnd.oci.image.config.v1+json", ...cfg },
    layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", ...layer }],
  });
  const index = {
    schemaVersion: 2,
    manifests: [
      {
        mediaType: "application/vnd.oci.image.manifest.v1+json",
        ...manifest,
        annotations: { "org.opencontainers.image.ref.name": BASE_REF_NAME },
      },
    ],
  };
  await fs.writeFile(path.join(layout, "index.json"), JSON.stringify(index));
  await fs.writeFile(path.join(layout, "oci-layout"), '{"imageLayoutVersion":"1.0.0"}');
  await fs.writeFile(
    path.join(tmp, "layers.json"),
    JSON.stringify({ diffId: layer.digest, storeLayers: rec.layers }),
  );
}

async function writeBlob(blobs: string, value: unknown): Promise<{ digest: string; size: number }> {
  const bytes = Buffer.from(JSON.stringify(value));
  const hex = createHash("sha256").update(bytes).digest("hex");
  await fs.writeFile(path.join(blobs, hex), bytes);
  return { digest: `sha256:${hex}`, size: bytes.length };
}

/** Host tar of `src` (never following links), hashed as it is written. */
async function tarToBlob(src: string, file: string): Promise<{ digest: string; size: number }> {
  const child = spawn(
    "tar",
    [
      "--numeric-owner",
      "--xattrs",
      "--xattrs-include=security.capability",
      "--sort=name",
      "--one-file-system",
      "-C",
      src,
      "-cf",
      "-",
      ".",
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => {
    if (stderr.length < 4096) stderr += d.toString();
  });
  const hash = createHash("sha256");
  let size = 0;
  const exited = new Promise<number>((resolve) => child.on("close", (code) => resolve(code ?? 1)));
  child.stdout.on("data", (d: Buffer) => {
    hash.update(d);
    size += d.length;
  });
  await pipeline(child.stdout, createWriteStream(file, { mode: 0o600 }));
  const code = await exited;
  if (code !== 0) throw new Error(`tar of ${src} exited ${code}: ${stderr.trim().slice(-300)}`);
  return { digest: `sha256:${hash.digest("hex")}`, size };
}
