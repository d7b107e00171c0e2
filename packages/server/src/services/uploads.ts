// Uploads of a local directory for `warren up --repo DIR`: the CLI reads the directory on the
// user's machine and sends a tar; the control plane never opens a path on a host for a user.
// The bytes go to a private file under the server's root; a row says whose it is. The clone
// streams it into `tar -x` inside the environment (controllers/setup/), then it is deleted.
// Unclaimed uploads expire after an hour.
import { randomBytes } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, rename, rm } from "node:fs/promises";
import path from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { formatSize, MAX_UPLOAD_BYTES, WarrenError } from "@warren/protocol";
import { type Clock, isoNow } from "../clock.ts";
import type { Db } from "../store/db.ts";
import { type Actor, requireUser } from "./actor.ts";

const TTL_MS = 60 * 60 * 1000;

export interface UploadService {
  /** Stores a tar from the request body; refused past `max` bytes with nothing left behind. */
  put(
    a: Actor,
    body: Readable,
    declaredBytes: number | undefined,
  ): Promise<{ id: string; sizeBytes: number }>;
  /** The bytes, for the clone (owner checked at create time). */
  open(id: string): Readable;
  remove(id: string): Promise<void>;
  /** Deletes expired uploads (rows and files). */
  sweep(): Promise<number>;
}

export function uploadsDir(root: string): string {
  return path.join(root, "uploads");
}

export function createUploadService(o: {
  db: Db;
  clock: Clock;
  root: string;
  maxBytes?: number;
}): UploadService {
  const dir = uploadsDir(o.root);
  const max = o.maxBytes ?? MAX_UPLOAD_BYTES;
  const file = (id: string) => path.join(dir, `${id}.tar`);
  const tooBig = () =>
    new WarrenError(
      "PAYLOAD_TOO_LARGE",
      `the directory's tar is larger than ${formatSize(max)}; leave build outputs and dependencies out (a .gitignore'd folder is still sent) or push the code to a git server and use --repo URL`,
      { maxBytes: max },
    );
  return {
    async put(a, body, declared) {
      const user = requireUser(a, "uploading a directory");
      if (declared !== undefined && declared > max) throw tooBig();
      await mkdir(dir, { recursive: true, mode: 0o700 });
      const id = `up_${randomBytes(12).toString("hex")}`;
      const tmp = `${file(id)}.part`;
      let size = 0;
      try {
        await pipeline(
          body,
          async function* (src: AsyncIterable<Buffer>) {
            for await (const chunk of src) {
              size += chunk.length;
              if (size > max) throw tooBig();
              yield chunk;
            }
          },
          createWriteStream(tmp, { mode: 0o600 }),
        );
        await rename(tmp, file(id));
        const now = new Date(o.clock.now());
        await o.db
          .insertInto("uploads")
          .values({
            id,
            org_id: user.orgId,
            owner_id: user.userId,
            size_bytes: size,
            created_at: now.toISOString(),
            expires_at: new Date(now.getTime() + TTL_MS).toISOString(),
          })
          .execute();
      } catch (err) {
        await rm(tmp, { force: true });
        await rm(file(id), { force: true });
        throw err;
      }
      return { id, sizeBytes: size };
    },
    open(id) {
      return createReadStream(file(id));
    },
    async remove(id) {
      await o.db.deleteFrom("uploads").where("id", "=", id).execute();
      await rm(file(id), { force: true });
    },
    async sweep() {
      const old = await o.db
        .selectFrom("uploads")
        .select("id")
        .where("expires_at", "<", isoNow(o.clock))
        .execute();
      for (const r of old) await this.remove(r.id);
      return old.length;
    },
  };
}

/** A create may name only its own organisation's and owner's upload, before it expires. */
export async function requireUpload(
  db: Db,
  id: string,
  own: { org_id: string; owner_id: string },
  now: string,
): Promise<void> {
  const row = await db.selectFrom("uploads").selectAll().where("id", "=", id).executeTakeFirst();
  if (!row || row.org_id !== own.org_id || row.owner_id !== own.owner_id || row.expires_at < now) {
    throw new WarrenError(
      "INVALID_ARGUMENT",
      `upload ${id} does not exist or has expired; run \`warren up --repo DIR\` again to send the directory`,
      { field: "repo.uploadId" },
    );
  }
}
