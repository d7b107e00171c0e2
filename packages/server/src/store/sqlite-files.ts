// Where the embedded store's files live, and who may read them. The state root is 0711 (the
// runner needs environments' mapped root uids to traverse it to their own files), so anything
// placed directly in it is only as private as its own mode. The store therefore lives in a 0700
// directory of its own, ROOT/db/, and every file of it (warren.db, -wal, -shm) is 0600: it holds
// token digests, encrypted secrets and the audit log.

import { chmodSync, closeSync, existsSync, mkdirSync, openSync, renameSync } from "node:fs";
import path from "node:path";
import { DatabaseSync } from "node:sqlite";
import { isMainThread } from "node:worker_threads";

export const STORE_DIR = "db";
export const STORE_NAME = "warren.db";
const SIDE_FILES = ["-wal", "-shm"] as const;

export function storeDir(root: string): string {
  return path.join(root, STORE_DIR);
}

/** The database file and the side files SQLite keeps next to it in WAL mode. */
export function storeFiles(file: string): string[] {
  return [file, ...SIDE_FILES.map((s) => file + s)];
}

/**
 * Makes ROOT/db/ (0700), moves a store an older Warren left at ROOT/warren.db into it, creates an
 * empty database file 0600 if there is none, and brings the modes of existing files to 0600.
 * Returns the database file's path.
 */
export function prepareStoreFiles(root: string): string {
  mkdirSync(root, { recursive: true, mode: 0o700 });
  const dir = storeDir(root);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700); // Warren's own directory: a looser mode left by anyone is corrected
  const file = path.join(dir, STORE_NAME);
  moveLegacyStore(path.join(root, STORE_NAME), file);
  if (!existsSync(file)) closeSync(openSync(file, "wx", 0o600)); // an empty file is an empty database
  for (const f of storeFiles(file)) if (existsSync(f)) chmodSync(f, 0o600);
  return file;
}

/**
 * Runs `open` with a umask that leaves new files readable by the owner only, so that a -wal or
 * -shm SQLite creates is never briefly 0644. (SQLite also copies the database file's mode to
 * them.) Worker threads cannot change the umask; they only open files that already exist.
 */
export function withPrivateUmask<T>(open: () => T): T {
  if (!isMainThread) return open();
  const old = process.umask(0o077);
  try {
    return open();
  } finally {
    process.umask(old);
  }
}

/**
 * Moves ROOT/warren.db (with its -wal and -shm) to ROOT/db/warren.db, once: only when the new
 * file does not exist yet. The old database is first checkpointed and closed, which, when no one
 * else has it open, folds the WAL into the file and deletes both side files, so usually one file
 * moves. A -wal still there afterwards means another process (a running older daemon) has it
 * open: moving it then would split that process's writes from ours, so that is refused.
 * Side files move before the database: a crash between renames leaves the old database in place,
 * and the next start finishes the move.
 */
function moveLegacyStore(oldFile: string, newFile: string): void {
  if (!existsSync(oldFile) || existsSync(newFile)) return;
  const old = withPrivateUmask(() => new DatabaseSync(oldFile));
  try {
    old.exec("pragma wal_checkpoint(truncate)");
  } finally {
    old.close();
  }
  if (existsSync(`${oldFile}-wal`)) {
    throw new Error(
      `${oldFile} is open in another process (a running warren daemon?), so it cannot move to ` +
        `${newFile}; stop that process, then start again`,
    );
  }
  for (const s of SIDE_FILES) if (existsSync(oldFile + s)) renameSync(oldFile + s, newFile + s);
  renameSync(oldFile, newFile);
}
