// Helpers for `warren admin rotate-key` (services/secrets.ts rotateKey): reading a key a rotation
// left half-done, opening a row under the old (or pending) key, and writing key files durably.
import fs from "node:fs/promises";
import { WarrenError } from "@warren/protocol";
import { openWithKey } from "./registry-secrets.ts";

export async function readPending(file: string): Promise<Buffer | undefined> {
  const k = await fs.readFile(file).catch(() => undefined);
  return k?.length === 32 ? k : undefined;
}

export function openOld(oldKey: Buffer, pending: Buffer | undefined, sealed: string, ad: string): string {
  try {
    return openWithKey(oldKey, sealed, ad);
  } catch {
    try {
      if (!pending) throw new Error("no pending key");
      return openWithKey(pending, sealed, ad);
    } catch {
      throw new WarrenError(
        "INTERNAL",
        "a stored value does not decrypt under the current key; rotation aborted",
      );
    }
  }
}

export async function writeKey(file: string, key: Buffer): Promise<void> {
  await fs.rm(file, { force: true });
  const fh = await fs.open(file, "wx", 0o600);
  try {
    await fh.writeFile(key);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export async function syncDir(dir: string): Promise<void> {
  const fh = await fs.open(dir, "r");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
