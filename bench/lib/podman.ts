// Podman as the baseline peer, configured as DESIGN.md says works on these hosts, running the
// same Debian base layer Warren uses (imported as a single-layer image).
import { spawnSync } from "node:child_process";
import path from "node:path";
import { type ApiClient, DEFAULT_IMAGE } from "@warren/protocol";
import { SHARED_IMAGES } from "@warren/testing/e2e-harness";

export const PODMAN_FLAGS = [
  "--runtime",
  "runc",
  "--ulimit",
  "nofile=20000:20000",
  "--ulimit",
  "nproc=32768:32768",
];
export const PODMAN_IMAGE = "localhost/warren-bench-base:latest";

export function sh(cmd: string, args: string[], input?: string): string {
  const r = spawnSync(cmd, args, { encoding: "utf8", input, maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

/** The unpacked layer directory of Warren's default image in the shared test image store. */
export async function layerDirOfBase(client: ApiClient): Promise<string> {
  const base = (await client.listImages()).find((i) => i.ref === DEFAULT_IMAGE);
  if (base?.layers.length !== 1) throw new Error("base image missing");
  return path.join(SHARED_IMAGES, "layers", base.layers[0]!.replace(":", "/"));
}

/** Installs podman if missing and imports the base layer once; returns the image name. */
export function ensurePodmanImage(layerDir: string): string {
  if (spawnSync("podman", ["--version"]).status !== 0) {
    sh("apt-get", ["install", "-y", "-qq", "podman"]);
  }
  if (spawnSync("podman", ["image", "exists", PODMAN_IMAGE]).status !== 0) {
    const tar = spawnSync("tar", ["-C", layerDir, "-c", "."], { maxBuffer: 1 << 30 });
    const r = spawnSync("podman", ["import", "-", PODMAN_IMAGE], { input: tar.stdout });
    if (r.status !== 0) throw new Error(`podman import: ${r.stderr}`);
  }
  return PODMAN_IMAGE;
}
