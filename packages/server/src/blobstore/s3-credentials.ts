// The S3 store's credentials, kept with the server's other secrets: sealed (AES-256-GCM, the
// helper registry logins and secrets use) under `${root}/keys/blobstore.key`, in
// `${root}/keys/blobstore-s3.sealed`. Root-only files on the control plane; a runner never sees them.
//
// Store them once per control plane (every replica needs both files):
//   printf '{"accessKeyId":"…","secretAccessKey":"…"}' | node packages/server/src/blobstore/s3-credentials.ts ROOT
import fs from "node:fs/promises";
import path from "node:path";
import { WarrenError } from "@warren/protocol";
import { keyFile, secretBox } from "../services/registry-secrets.ts";
import type { S3Credentials } from "./s3-store.ts";

export const BLOBSTORE_KEY = "blobstore.key";
const SEALED = "blobstore-s3.sealed";
/** Bound in as associated data: a sealed value copied from elsewhere does not open as these. */
const AAD = "warren-blobstore-s3-credentials";

const sealedFile = (root: string) => keyFile(root, SEALED);

export async function saveS3Credentials(root: string, creds: S3Credentials): Promise<void> {
  requireCredentials(creds);
  const sealed = await secretBox(root, { file: BLOBSTORE_KEY }).seal(JSON.stringify(creds), AAD);
  const file = sealedFile(root);
  const tmp = `${file}.tmp`;
  await fs.writeFile(tmp, sealed, { mode: 0o600 });
  const fh = await fs.open(tmp, "r");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
  await fs.rename(tmp, file);
}

/** A credentials provider for createS3BlobStore: reads and opens the sealed file on each call. */
export function storedS3Credentials(root: string): () => Promise<S3Credentials> {
  const box = secretBox(root, {
    file: BLOBSTORE_KEY,
    undecryptable: (_aad, key) =>
      new WarrenError(
        "INVALID_ARGUMENT",
        `the blob store's S3 credentials cannot be decrypted with ${key} (was it replaced?); store them again`,
      ),
  });
  return async () => {
    const file = sealedFile(root);
    const sealed = await fs.readFile(file, "utf8").catch((err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT")
        throw new WarrenError(
          "INVALID_ARGUMENT",
          `no S3 credentials for the blob store in ${file}; store them with ` +
            `\`node packages/server/src/blobstore/s3-credentials.ts ${root}\` (JSON on stdin)`,
        );
      throw err;
    });
    const creds = JSON.parse(await box.open(sealed.trim(), AAD)) as S3Credentials;
    requireCredentials(creds);
    return creds;
  };
}

function requireCredentials(c: S3Credentials): void {
  if (
    typeof c?.accessKeyId !== "string" ||
    !c.accessKeyId ||
    typeof c.secretAccessKey !== "string" ||
    !c.secretAccessKey
  )
    throw new WarrenError(
      "INVALID_ARGUMENT",
      "S3 credentials need a non-empty accessKeyId and secretAccessKey",
    );
  if (c.sessionToken !== undefined && typeof c.sessionToken !== "string")
    throw new WarrenError("INVALID_ARGUMENT", "the S3 sessionToken must be a string");
}

if (import.meta.main) {
  const root = process.argv[2];
  if (!root) {
    console.error(
      "usage: node s3-credentials.ts ROOT < credentials.json  (ROOT: the control plane's data directory)",
    );
    process.exit(1);
  }
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  try {
    const c = JSON.parse(Buffer.concat(chunks).toString("utf8")) as S3Credentials;
    await saveS3Credentials(path.resolve(root), {
      accessKeyId: c.accessKeyId,
      secretAccessKey: c.secretAccessKey,
      ...(c.sessionToken ? { sessionToken: c.sessionToken } : {}),
    });
    console.log(`stored sealed in ${sealedFile(path.resolve(root))}`);
  } catch (err) {
    console.error(`could not store the S3 credentials: ${(err as Error).message}`);
    process.exit(1);
  }
}
