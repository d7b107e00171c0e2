// Writes config.json into a bundle directory atomically, so a crash never leaves half a spec
// for a later create to trip over.
import { mkdir, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import type { OciSpec } from "./types.ts";

export async function writeBundleSpec(bundleDir: string, spec: OciSpec): Promise<string> {
  await mkdir(bundleDir, { recursive: true });
  const file = path.join(bundleDir, "config.json");
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, `${JSON.stringify(spec, null, 2)}\n`, { mode: 0o600 });
  await rename(tmp, file);
  return file;
}
