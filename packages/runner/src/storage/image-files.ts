// Small file-system and naming helpers of the image store: atomic writes, liveness of the pid
// that owns a tmp path, and validation of the strings that become file names.
import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import { WarrenError } from "@warren/protocol";

const DIFF_ID_RE = /^sha256:([a-f0-9]{64})$/;
const REF_RE = /^[A-Za-z0-9][A-Za-z0-9._\-/:@+]{0,254}$/;

/** Refs are user input that become file names; this keeps them boring. */
export function validateRef(ref: string): string {
  if (!REF_RE.test(ref) || ref.split("/").some((p) => p === ".." || p === ".")) {
    throw new WarrenError(
      "INVALID_ARGUMENT",
      `invalid image ref "${ref}": use letters, digits and . _ - / : @ + (e.g. myorg/tools:1.0)`,
      { ref },
    );
  }
  return ref;
}

export function diffIdHex(diffId: string): string {
  const m = DIFF_ID_RE.exec(diffId);
  if (!m) throw new WarrenError("IMAGE_CORRUPT", `"${diffId}" is not a sha256 layer digest`);
  return m[1]!;
}

export async function isDir(p: string): Promise<boolean> {
  return (await fs.stat(p).catch(() => null))?.isDirectory() ?? false;
}

export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

export async function writeFileAtomic(file: string, data: string): Promise<void> {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  const fh = await fs.open(tmp, "w", 0o644);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await fs.rename(tmp, file);
}
