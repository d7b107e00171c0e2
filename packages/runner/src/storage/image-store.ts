// The runner's image store. Layers are unpacked once into content-addressed directories
// (`images/layers/sha256/<diffid hex>/`) and shared by every environment as overlayfs lower
// layers; a ref (`images/refs/<encoded ref>.json`) names an ordered list of them. Every write is
// a tmp path + rename, so presence means complete: a crash leaves only tmp leftovers, which
// cleanupStale() removes.
import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { DEFAULT_IMAGE, type ImageInfo, type ProgressFn, WarrenError, wrap } from "@warren/protocol";
import type { RunnerConfig } from "../host/config.ts";
import type { IdRange } from "../host/idrange.ts";
import { BASE_RECIPE, ensureBaseImage } from "./image-base.ts";
import { diffIdHex, isDir, pidAlive, validateRef, writeFileAtomic } from "./image-files.ts";
import { importOciImage } from "./image-import.ts";
import { cacheMaxBytes, mountedLayers } from "./image-layers-in-use.ts";
import { linkImage } from "./image-link.ts";
import { defaultSandbox, layerMaxBytes, type UnpackSandbox } from "./image-unpack-sandbox.ts";
import type { ImageRecord, LayerStore } from "./layer-store.ts";
import type { ImageLayers } from "./types.ts";

export { diffIdHex, validateRef } from "./image-files.ts";

export type { ImageRecord } from "./layer-store.ts";

export interface ImageStoreOptions extends Pick<RunnerConfig, "root" | "mirror"> {
  imagesDir?: string;
  /** The full warren id range; its last block is the unpacker's (default: /etc/subuid). */
  idRange?: IdRange;
  /** Cap on the store's layers before unused images are evicted (default WARREN_IMAGE_CACHE_MAX). */
  cacheMaxBytes?: number;
  /** Cap on one layer's expanded size (default WARREN_LAYER_MAX, 20 GiB). */
  layerMaxBytes?: number;
  /** Injected clock for last-used times. */
  now?: () => Date;
}

interface LayerMeta {
  diffId: string;
  sizeBytes: number;
}

export class ImageStore implements LayerStore {
  readonly dir: string;
  readonly layersDir: string;
  readonly refsDir: string;
  readonly tmpDir: string;
  readonly mirror: string | undefined;
  /** Environment handles of this runner (images they name are in use). */
  readonly envsDir: string;
  readonly cacheMaxBytes: number;
  readonly now: () => Date;
  private readonly opts: ImageStoreOptions;
  private sandboxP: Promise<UnpackSandbox> | null = null;
  private readonly inFlight = new Set<string>();
  private readonly pinned = new Map<string, number>();
  private baseBuild: Promise<ImageInfo> | null = null;

  constructor(cfg: ImageStoreOptions) {
    this.opts = cfg;
    this.envsDir = path.join(cfg.root, "envs");
    this.cacheMaxBytes = cfg.cacheMaxBytes ?? cacheMaxBytes();
    this.now = cfg.now ?? (() => new Date());
    this.dir = cfg.imagesDir ?? path.join(cfg.root, "images");
    this.layersDir = path.join(this.dir, "layers", "sha256");
    this.refsDir = path.join(this.dir, "refs");
    this.tmpDir = path.join(this.dir, "tmp");
    this.mirror = cfg.mirror;
  }

  async init(): Promise<void> {
    for (const d of [this.layersDir, this.refsDir, this.tmpDir]) await fs.mkdir(d, { recursive: true });
    // Layers being unpacked hold ids of real users (1000...): no host user may reach into them.
    await fs.chmod(this.tmpDir, 0o700);
  }

  /** How layers are extracted (helper, unpacker id block, size cap). */
  sandbox(): Promise<UnpackSandbox> {
    this.sandboxP ??= defaultSandbox(this.opts.idRange).then((sb) => ({
      ...sb,
      maxBytes: this.opts.layerMaxBytes ?? layerMaxBytes(),
    }));
    return this.sandboxP;
  }

  /** Records that an environment started from `ref` now (for least-recently-used eviction). */
  async touch(ref: string): Promise<void> {
    const rec = await this.readRecord(ref);
    await this.writeRecord({ ...rec, lastUsedAt: this.now().toISOString() });
  }

  /** Removes tmp leftovers of crashed imports (this process's running ones are kept). */
  async cleanupStale(): Promise<string[]> {
    await this.init();
    const removed: string[] = [];
    for (const name of await fs.readdir(this.tmpDir)) {
      const pid = Number(name.split(".")[0]);
      const mine = pid === process.pid && this.inFlight.has(name);
      if (mine || (pid !== process.pid && pidAlive(pid))) continue;
      await fs.rm(path.join(this.tmpDir, name), { recursive: true, force: true });
      removed.push(name);
    }
    // Half-written ref and layer metadata files from writeFileAtomic.
    for (const dir of [this.refsDir, this.layersDir]) {
      for (const name of await fs.readdir(dir)) {
        const pid = Number(name.split(".").at(-3));
        if (!name.endsWith(".tmp") || pidAlive(pid)) continue;
        await fs.rm(path.join(dir, name), { force: true });
        removed.push(name);
      }
    }
    return removed;
  }

  /** Keeps layers of an import in progress (not yet named by a ref) safe from remove(). */
  pin(diffIds: string[]): () => void {
    for (const d of diffIds) this.pinned.set(d, (this.pinned.get(d) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      for (const d of diffIds) {
        const n = (this.pinned.get(d) ?? 1) - 1;
        if (n <= 0) this.pinned.delete(d);
        else this.pinned.set(d, n);
      }
    };
  }

  /** A fresh path under tmp/ (not created). Release it with releaseTmp, which deletes it. */
  async tmpPath(purpose: string): Promise<string> {
    await this.init();
    const name = `${process.pid}.${randomBytes(6).toString("hex")}.${purpose}`;
    this.inFlight.add(name);
    return path.join(this.tmpDir, name);
  }

  async releaseTmp(p: string): Promise<void> {
    await fs.rm(p, { recursive: true, force: true });
    this.inFlight.delete(path.basename(p));
  }

  layerDir(diffId: string): string {
    return path.join(this.layersDir, diffIdHex(diffId));
  }

  async hasLayer(diffId: string): Promise<boolean> {
    return isDir(this.layerDir(diffId));
  }

  async layerSize(diffId: string): Promise<number> {
    try {
      const meta = JSON.parse(await fs.readFile(`${this.layerDir(diffId)}.json`, "utf8")) as LayerMeta;
      return meta.sizeBytes;
    } catch {
      return 0;
    }
  }

  /** Moves a fully unpacked tmp dir into place. Losing a race to an identical layer is fine. */
  async commitLayer(tmp: string, diffId: string, sizeBytes: number): Promise<string> {
    const dest = this.layerDir(diffId);
    await writeFileAtomic(`${dest}.json`, JSON.stringify({ diffId, sizeBytes } satisfies LayerMeta));
    try {
      await fs.rename(tmp, dest);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== "EEXIST" && code !== "ENOTEMPTY") throw wrap(`commit layer ${diffId}`, err);
      await this.releaseTmp(tmp);
    }
    this.inFlight.delete(path.basename(tmp));
    return dest;
  }

  refFile(ref: string): string {
    return path.join(this.refsDir, `${encodeURIComponent(validateRef(ref))}.json`);
  }

  async writeRecord(rec: ImageRecord): Promise<void> {
    await this.init();
    await writeFileAtomic(this.refFile(rec.ref), `${JSON.stringify(rec, null, 2)}\n`);
  }

  async list(): Promise<ImageInfo[]> {
    await this.init();
    const out: ImageInfo[] = [];
    for (const name of (await fs.readdir(this.refsDir)).sort()) {
      if (!name.endsWith(".json")) continue;
      try {
        const rec = await this.readRecord(decodeURIComponent(name.slice(0, -5)));
        out.push(toInfo(rec));
      } catch {
        // A damaged ref must not hide the others; verify() reports it.
      }
    }
    return out;
  }

  async has(ref: string): Promise<boolean> {
    return (await fs.stat(this.refFile(ref)).catch(() => null)) !== null;
  }

  async info(ref: string): Promise<ImageInfo> {
    return toInfo(await this.readRecord(ref));
  }

  async get(ref: string): Promise<ImageLayers> {
    const rec = await this.readRecord(ref);
    return {
      ref: rec.ref,
      digest: rec.digest,
      layerDirs: rec.layers.map((l) => this.layerDir(l)),
      config: rec.config,
    };
  }

  /** Checks that every layer directory of the image exists. */
  async verify(ref: string): Promise<ImageLayers> {
    const img = await this.get(ref);
    for (const [i, dir] of img.layerDirs.entries()) {
      if (!(await isDir(dir))) {
        throw new WarrenError(
          "IMAGE_CORRUPT",
          `image ${ref}: layer ${i + 1} (${path.basename(dir).slice(0, 12)}) is missing from ${this.layersDir}; ` +
            `remove the image and import it again${ref === DEFAULT_IMAGE ? " (or run `warren up` to rebuild it)" : ""}`,
          { ref, layer: path.basename(dir) },
        );
      }
    }
    return img;
  }

  /** Removes the ref, then every layer no remaining ref uses. Callers ensure no environment uses it. */
  async remove(ref: string): Promise<string[]> {
    await this.readRecord(ref);
    await fs.rm(this.refFile(ref), { force: true });
    return this.gcLayers();
  }

  /** Deletes layers (all, or only `candidates`) that no ref names and no import has pinned. */
  async gcLayers(candidates?: string[]): Promise<string[]> {
    await this.init();
    const used = new Set<string>();
    for (const info of await this.list()) for (const l of info.layers) used.add(diffIdHex(l));
    for (const l of this.pinned.keys()) used.add(diffIdHex(l));
    // A mounted layer belongs to a live environment, maybe of another root sharing this store.
    for (const hex of mountedLayers()) used.add(hex);
    const only = candidates && new Set(candidates.map(diffIdHex));
    const removed: string[] = [];
    for (const name of await fs.readdir(this.layersDir)) {
      const hex = name.replace(/\.json$/, "");
      if (used.has(hex) || !/^[a-f0-9]{64}$/.test(hex) || (only && !only.has(hex))) continue;
      // Rename first so a half-deleted layer never looks complete.
      const doomed = await this.tmpPath("gc");
      await fs.rename(path.join(this.layersDir, name), doomed);
      await this.releaseTmp(doomed);
      if (!name.endsWith(".json")) removed.push(`sha256:${hex}`);
    }
    return removed;
  }

  /** Makes `ref` of another store available here as symlinked layers (image-link.ts). */
  async linkFrom(other: ImageStore, ref: string): Promise<ImageLayers> {
    await this.init();
    await linkImage(this, other, ref);
    return this.get(ref);
  }

  importOci(srcPath: string, ref: string | undefined, progress: ProgressFn): Promise<ImageInfo> {
    return importOciImage(this, srcPath, ref, progress);
  }

  /** Builds the default image unless cached; concurrent callers share one build. */
  async ensureBase(opts: { mirror?: string }, progress: ProgressFn): Promise<ImageInfo> {
    const present = await this.has(DEFAULT_IMAGE);
    if (present && !(await this.hasCurrentBase())) {
      progress({
        phase: "base",
        message: `${DEFAULT_IMAGE} was built from an older package list; building it again`,
      });
    } else if (present) {
      try {
        await this.verify(DEFAULT_IMAGE);
        return await this.info(DEFAULT_IMAGE);
      } catch {
        progress({ phase: "base", message: `${DEFAULT_IMAGE} is damaged; building it again` });
      }
    }
    if (!this.baseBuild) {
      this.baseBuild = ensureBaseImage(this, { mirror: opts.mirror ?? this.mirror }, progress).finally(() => {
        this.baseBuild = null;
      });
    }
    return this.baseBuild;
  }

  /** The base image is here and built from today's package list (BASE_RECIPE). */
  async hasCurrentBase(): Promise<boolean> {
    if (!(await this.has(DEFAULT_IMAGE))) return false;
    const rec = await this.readRecord(DEFAULT_IMAGE).catch(() => null);
    return rec?.recipe === BASE_RECIPE;
  }

  async readRecord(ref: string): Promise<ImageRecord> {
    let text: string;
    try {
      text = await fs.readFile(this.refFile(ref), "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw wrap(`read image ${ref}`, err);
      const fix =
        ref === DEFAULT_IMAGE
          ? "it is built on the first `warren up` (or POST /api/v1/images/base)"
          : "run `warren image import PATH` with an OCI image layout directory or tarball";
      throw new WarrenError("IMAGE_NOT_FOUND", `image ${ref} is not in the image store: ${fix}`, { ref });
    }
    try {
      const rec = JSON.parse(text) as ImageRecord;
      if (rec.ref !== ref || !Array.isArray(rec.layers)) throw new Error("fields do not match");
      for (const l of rec.layers) diffIdHex(l);
      return rec;
    } catch (err) {
      throw new WarrenError(
        "IMAGE_CORRUPT",
        `image ${ref}: its record ${this.refFile(ref)} is unreadable (${(err as Error).message}); import it again`,
        { ref },
      );
    }
  }
}

function toInfo(rec: ImageRecord): ImageInfo {
  return {
    ref: rec.ref,
    digest: rec.digest,
    layers: rec.layers,
    sizeBytes: rec.sizeBytes,
    createdAt: rec.createdAt,
    ...(rec.lastUsedAt ? { lastUsedAt: rec.lastUsedAt } : {}),
  };
}
