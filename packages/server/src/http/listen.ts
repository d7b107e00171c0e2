// Serves the API on a unix socket only root can open: the socket is 0600, and inside a 0700
// directory when Warren made that directory, so there is no window in which another user could
// connect. A directory that already existed belongs to someone else (/run, a home, /tmp): its
// mode is never changed, since tightening it would lock out whoever else uses it.
import { chmod, lstat, mkdir, unlink } from "node:fs/promises";
import { connect } from "node:net";
import path from "node:path";
import type { FastifyInstance } from "fastify";

export async function listenUnix(app: FastifyInstance, socketPath: string): Promise<void> {
  const dir = path.dirname(socketPath);
  // mkdir returns the first directory it made, so a defined result means `dir` itself is new.
  const created = await mkdir(dir, { recursive: true, mode: 0o700 });
  // The umask may have loosened or tightened the new directory's mode; it is Warren's to set.
  if (created !== undefined) await chmod(dir, 0o700);
  await removeStaleSocket(socketPath);
  await app.listen({ path: socketPath });
  await chmod(socketPath, 0o600);
}

async function removeStaleSocket(socketPath: string): Promise<void> {
  let st: Awaited<ReturnType<typeof lstat>>;
  try {
    st = await lstat(socketPath);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
    throw err;
  }
  if (!st.isSocket()) {
    throw new Error(`${socketPath} exists and is not a socket; move it away or choose another socket path`);
  }
  if (await isAlive(socketPath)) {
    throw new Error(`another warren daemon is already listening on ${socketPath}; stop it first`);
  }
  await unlink(socketPath);
}

function isAlive(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect(socketPath);
    sock.once("connect", () => {
      sock.destroy();
      resolve(true);
    });
    sock.once("error", () => resolve(false));
  });
}
