// OCI layers mark deletions with files; overlayfs marks them with special inodes. Converting once
// at unpack time lets every environment use the layer directory directly as a lower layer:
//   dir/.wh.<name>    -> dir/<name> as a 0:0 character device (an overlayfs whiteout)
//   dir/.wh..wh..opq  -> xattr trusted.overlay.opaque=y on dir (hides all lower entries)
// Other `.wh..wh.*` names are AUFS bookkeeping and are dropped, as the OCI spec says.
import fs from "node:fs/promises";
import path from "node:path";
import { WarrenError } from "@warren/protocol";
import { run } from "../host/run.ts";

const OPAQUE = ".wh..wh..opq";
const BATCH = 200;

/** Converts the whiteouts the tar scanner saw (relative paths); returns how many it converted. */
export async function convertWhiteouts(layerDir: string, whiteouts: string[]): Promise<number> {
  const devices: string[] = [];
  const opaqueDirs: string[] = [];
  for (const rel of whiteouts) {
    const dirRel = path.posix.dirname(rel);
    const base = path.posix.basename(rel);
    const dir = dirRel === "." ? layerDir : path.join(layerDir, dirRel);
    await assertInsideLayer(layerDir, dirRel === "." ? "" : dirRel);
    const marker = path.join(dir, base);
    // lstat: a later entry may have replaced the marker; rm never follows a symlink itself.
    if (!(await fs.lstat(marker).catch(() => null))) continue;
    await fs.rm(marker, { recursive: true, force: true });
    if (base === OPAQUE) opaqueDirs.push(dir);
    else if (!base.startsWith(".wh..wh.")) {
      const target = path.join(dir, base.slice(4));
      await fs.rm(target, { recursive: true, force: true });
      devices.push(target);
    }
  }
  for (let i = 0; i < devices.length; i += BATCH) {
    // Mode 0 and rdev 0:0, exactly what overlayfs itself creates; created by root, so owned 0:0.
    await run("sh", [
      "-c",
      'for p do mknod -m 0 "$p" c 0 0 || exit 1; done',
      "sh",
      ...devices.slice(i, i + BATCH),
    ]);
  }
  for (let i = 0; i < opaqueDirs.length; i += BATCH) {
    await run("setfattr", ["-n", "trusted.overlay.opaque", "-v", "y", ...opaqueDirs.slice(i, i + BATCH)]);
  }
  return devices.length + opaqueDirs.length;
}

/** Refuses to touch anything reached through a symlink inside the layer. */
async function assertInsideLayer(layerDir: string, rel: string): Promise<void> {
  let cur = layerDir;
  for (const part of rel.split("/").filter(Boolean)) {
    cur = path.join(cur, part);
    const st = await fs.lstat(cur).catch(() => null);
    if (st && !st.isDirectory()) {
      throw new WarrenError(
        "IMAGE_CORRUPT",
        `whiteout under "${rel}" is reached through a non-directory; refusing it`,
      );
    }
  }
}
