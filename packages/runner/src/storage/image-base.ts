// The built-in default image (DEFAULT_IMAGE): a Debian bookworm minbase with the tools a
// developer expects, built by mmdebstrap from the host's own Debian mirror, as root of an
// unprivileged user namespace, never host root (image-base-sandbox.ts). mmdebstrap writes a
// tarball to stdout, which streams straight into the layer unpacker, so the ~250 MB tar is
// never stored twice. Its stderr lines become progress events.
import { createHash } from "node:crypto";
import fs from "node:fs/promises";
import { DEFAULT_IMAGE, type ImageInfo, type ProgressFn, wrap } from "@warren/protocol";
import { readHostAptSources, resolveDebianSources, SUITE } from "./image-apt-sources.ts";
import { spawnInUserNamespace } from "./image-base-sandbox.ts";
import { unpackLayer } from "./image-layer-unpack.ts";
import { hostPlatform } from "./image-oci-layout.ts";
import type { ImageRecord, LayerStore } from "./layer-store.ts";

// openssh-client, openssh-sftp-server and rsync: what editors and `ssh -A`/scp/sftp/rsync through the
// SSH gateway expect to find inside (the gateway runs the image's own sftp-server).
export const BASE_PACKAGES = [
  "bash",
  "coreutils",
  "git",
  "curl",
  "ca-certificates",
  "sudo",
  "procps",
  "openssh-client",
  "openssh-sftp-server",
  "rsync",
];
/**
 * What the base image is built from. Stored in its record, so a store holding a base built from an
 * older package list builds it again instead of serving an image without the new tools.
 */
export const BASE_RECIPE = createHash("sha256")
  .update(JSON.stringify({ suite: SUITE, packages: BASE_PACKAGES }))
  .digest("hex")
  .slice(0, 16);
export const BASE_CONFIG = {
  env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
  cmd: ["/bin/bash"],
  workingDir: "/",
  user: "",
};
const BUILD_TIMEOUT_MS = 20 * 60 * 1000;

export interface BaseImageOptions {
  mirror?: string;
  /** Where to read the host's apt sources; tests point it elsewhere. */
  aptDir?: string;
}

export async function ensureBaseImage(
  store: LayerStore,
  opts: BaseImageOptions,
  progress: ProgressFn,
): Promise<ImageInfo> {
  const sources = resolveDebianSources(await readHostAptSources(opts.aptDir), opts.mirror);
  progress({
    phase: "base",
    message: `building ${DEFAULT_IMAGE} from ${sources.mirror} (about 20 s, 250 MB)`,
  });
  const work = await store.tmpPath("mmdebstrap");
  const layerTmp = await store.tmpPath("layer");
  try {
    // The build runs as root of an unprivileged user namespace (image-base-sandbox.ts), with the
    // unpacker's ids; its scratch dir is its /tmp. 0755 so apt inside can drop to _apt to download
    // (as with host root); it sits in the store's root-only tmp dir.
    const sandbox = await store.sandbox();
    await fs.mkdir(work, { mode: 0o755 });
    await fs.chmod(work, 0o755);
    await fs.chown(work, sandbox.idStart, sandbox.idStart);
    const args = [
      "mmdebstrap",
      // As root of its own user namespace mmdebstrap makes no further one, but still gets its own
      // mount namespace and binds /dev instead of mknod (which a user namespace may not do).
      "--mode=unshare",
      "--variant=minbase",
      `--include=${BASE_PACKAGES.join(",")}`,
      "--format=tar",
      SUITE,
      "-",
      ...sources.lines,
    ];
    // Its scratch chroot lands in our tmp dir, so cleanupStale() finds it after a crash.
    const child = spawnInUserNamespace({
      idStart: sandbox.idStart,
      workDir: work,
      hide: store.dir,
      argv: args,
      env: process.env,
    });
    const tail: string[] = [];
    let partial = "";
    child.stderr.on("data", (d: Buffer) => {
      const lines = (partial + d.toString()).split(/\r|\n/);
      partial = lines.pop() ?? "";
      for (const line of lines.filter((l) => l.trim())) {
        tail.push(line);
        if (tail.length > 5) tail.shift();
        progress({ phase: "base", message: line });
      }
    });
    const exited = new Promise<number>((resolve, reject) => {
      child.on("error", (e) =>
        reject(new Error(`mmdebstrap: ${e.message} (unshare, setpriv: apt-get install util-linux)`)),
      );
      child.on("close", (code) => resolve(code ?? 128));
    });
    const timer = setTimeout(() => child.kill("SIGTERM"), BUILD_TIMEOUT_MS);
    let res: Awaited<ReturnType<typeof unpackLayer>>;
    try {
      res = await unpackLayer({
        what: "base image layer",
        source: child.stdout,
        compression: "none",
        dest: layerTmp,
        // mmdebstrap's tar has /dev nodes; environments get their own /dev anyway.
        sandbox: { ...sandbox, skipDevices: true },
      });
    } catch (err) {
      child.kill("SIGTERM");
      const code = await exited.catch(() => -1);
      // A failing mmdebstrap truncates the tar; its own message says why, so prefer that.
      if (code !== 0) throw buildFailed(code, tail);
      throw err;
    } finally {
      clearTimeout(timer);
    }
    const code = await exited;
    if (code !== 0) throw buildFailed(code, tail);
    await store.commitLayer(layerTmp, res.diffId, res.sizeBytes);
    const rec: ImageRecord = {
      ref: DEFAULT_IMAGE,
      digest: syntheticManifestDigest(res.diffId, res.sizeBytes),
      layers: [res.diffId],
      config: BASE_CONFIG,
      sizeBytes: res.sizeBytes,
      createdAt: new Date().toISOString(),
      recipe: BASE_RECIPE,
    };
    await store.writeRecord(rec);
    progress({
      phase: "done",
      message: `built ${DEFAULT_IMAGE} (${Math.round(res.sizeBytes / 1024 ** 2)} MiB)`,
    });
    const { config: _c, ...info } = rec;
    return info;
  } catch (err) {
    throw wrap(`build base image ${DEFAULT_IMAGE}`, err);
  } finally {
    await store.releaseTmp(layerTmp);
    await store.releaseTmp(work);
  }
}

function buildFailed(code: number, tail: string[]): Error {
  const hint = code === 127 ? " (install it: apt-get install mmdebstrap)" : "";
  return new Error(`mmdebstrap exited ${code}: ${tail.join("; ")}${hint}`);
}

/**
 * The base image has no registry manifest, so its digest is that of the OCI manifest it would
 * have (uncompressed layer): stable for identical content, different when the content changes.
 */
function syntheticManifestDigest(diffId: string, size: number): string {
  const sha = (s: string) => `sha256:${createHash("sha256").update(s).digest("hex")}`;
  const config = JSON.stringify({
    ...hostPlatform(),
    config: { Env: BASE_CONFIG.env, Cmd: BASE_CONFIG.cmd },
    rootfs: { type: "layers", diff_ids: [diffId] },
  });
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: {
      mediaType: "application/vnd.oci.image.config.v1+json",
      digest: sha(config),
      size: config.length,
    },
    layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", digest: diffId, size }],
  });
  return sha(manifest);
}
