// Encryption at rest for registry passwords: AES-256-GCM under a 32-byte key in
// `${root}/keys/registry.key` (dir 0700, file 0600, root-only), made on first use. The host is
// bound in as associated data, so a ciphertext copied onto another host's row does not decrypt.
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { WarrenError } from "@warren/protocol";

const IV = 12;
const TAG = 16;

export interface SecretBox {
  seal(plain: string, host: string): Promise<string>;
  open(sealed: string, host: string): Promise<string>;
  /** Forget the cached key, after `warren admin rotate-key` replaced the key file. */
  reset?(): void;
}

/** The registry key by default; secrets (services/secrets.ts) use `secrets.key` beside it. */
export function keyFile(root: string, name = "registry.key"): string {
  return path.join(root, "keys", name);
}

/** AES-256-GCM with `aad` bound in: base64(iv | tag | ciphertext). */
export function sealWithKey(key: Buffer, plain: string, aad: string): string {
  const iv = randomBytes(IV);
  const c = createCipheriv("aes-256-gcm", key, iv);
  c.setAAD(Buffer.from(aad));
  const body = Buffer.concat([c.update(plain, "utf8"), c.final()]);
  return Buffer.concat([iv, c.getAuthTag(), body]).toString("base64");
}

/** Throws on a wrong key, wrong aad or tampered ciphertext. */
export function openWithKey(key: Buffer, sealed: string, aad: string): string {
  const raw = Buffer.from(sealed, "base64");
  const d = createDecipheriv("aes-256-gcm", key, raw.subarray(0, IV));
  d.setAAD(Buffer.from(aad));
  d.setAuthTag(raw.subarray(IV, IV + TAG));
  return Buffer.concat([d.update(raw.subarray(IV + TAG)), d.final()]).toString("utf8");
}

export function secretBox(
  root: string,
  o: { file?: string; undecryptable?: (aad: string, file: string) => WarrenError } = {},
): SecretBox {
  const file = keyFile(root, o.file);
  let key: Promise<Buffer> | undefined;
  const getKey = () => {
    key ??= loadOrCreateKey(file).catch((err) => {
      key = undefined;
      throw err;
    });
    return key;
  };
  return {
    reset() {
      key = undefined;
    },
    async seal(plain, host) {
      return sealWithKey(await getKey(), plain, host);
    },
    async open(sealed, host) {
      const k = await getKey();
      try {
        return openWithKey(k, sealed, host);
      } catch {
        // A rotation that committed but died before renaming its key into place leaves the rows
        // under `${file}.new` (services/key-rotation.ts); finish the job by trying that key.
        const pending = await fs.readFile(`${file}.new`).catch(() => undefined);
        if (pending?.length === 32) {
          try {
            return openWithKey(pending, sealed, host);
          } catch {}
        }
        // Never echo the ciphertext or the key; say what to do.
        throw (
          o.undecryptable?.(host, file) ??
          new WarrenError(
            "INVALID_ARGUMENT",
            `the stored login for ${host} cannot be decrypted (was ${file} replaced?); ` +
              `run \`warren registry login ${host}\` again`,
            { host },
          )
        );
      }
    },
  };
}

export async function loadOrCreateKey(file: string): Promise<Buffer> {
  await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  await fs.chmod(path.dirname(file), 0o700);
  try {
    // wx: two daemons racing to create it end up with one key, not two.
    const fh = await fs.open(file, "wx", 0o600);
    try {
      await fh.writeFile(randomBytes(32));
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
  }
  const st = await fs.stat(file);
  if ((st.mode & 0o077) !== 0) await fs.chmod(file, 0o600);
  const key = await fs.readFile(file);
  if (key.length !== 32) throw new Error(`${file} is ${key.length} bytes, not a 32-byte key; move it away`);
  return key;
}
