// Puts small images (one empty layer; a devcontainer.metadata label) into a private podman
// storage for the reference CLI to inspect, all in one `podman load` of a docker-archive. Podman
// gets its own containers.conf (runc, the host's rlimits) and storage.conf (vfs under a temp dir)
// through CONTAINERS_CONF and CONTAINERS_STORAGE_CONF: the host's global configuration and
// storage are never touched.
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";

const exec = promisify(execFile);
const hex = (b: Buffer | string) => createHash("sha256").update(b).digest("hex");

export interface PodmanSandbox {
  env: NodeJS.ProcessEnv;
  cleanup(): Promise<void>;
}

/** A podman storage holding `images` (ref -> devcontainer.metadata label, or undefined for none). */
export async function podmanSandbox(images: Map<string, string | undefined>): Promise<PodmanSandbox> {
  const dir = await mkdtemp(path.join(tmpdir(), "warren-dc-podman-"));
  const env = {
    ...process.env,
    CONTAINERS_CONF: path.join(dir, "containers.conf"),
    CONTAINERS_STORAGE_CONF: path.join(dir, "storage.conf"),
  };
  try {
    await writeFile(
      env.CONTAINERS_CONF,
      '[containers]\ndefault_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]\n[engine]\nruntime = "runc"\n',
    );
    await writeFile(
      env.CONTAINERS_STORAGE_CONF,
      `[storage]\ndriver = "vfs"\ngraphroot = "${dir}/graph"\nrunroot = "${dir}/run"\n`,
    );
    const archive = path.join(dir, "archive");
    await mkdir(archive);
    const layer = Buffer.alloc(10240); // an empty tar: zero blocks
    const layerName = `${hex(layer)}.tar`;
    await writeFile(path.join(archive, layerName), layer);
    const manifest = [];
    for (const [ref, label] of images) {
      const config = JSON.stringify({
        architecture: "amd64",
        os: "linux",
        config: {
          Env: ["PATH=/usr/bin:/bin"],
          Labels: label === undefined ? {} : { "devcontainer.metadata": label },
        },
        rootfs: { type: "layers", diff_ids: [`sha256:${hex(layer)}`] },
      });
      const configName = `${hex(config)}.json`;
      await writeFile(path.join(archive, configName), config);
      manifest.push({ Config: configName, RepoTags: [ref], Layers: [layerName] });
    }
    await writeFile(path.join(archive, "manifest.json"), JSON.stringify(manifest));
    await exec("tar", ["-C", archive, "-cf", `${archive}.tar`, "."]);
    await exec("podman", ["load", "-q", "-i", `${archive}.tar`], { env });
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    env,
    async cleanup() {
      // vfs storage holds plain directories only: nothing is mounted.
      await rm(dir, { recursive: true, force: true });
    },
  };
}
