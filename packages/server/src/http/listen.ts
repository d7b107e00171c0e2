// Serves the API on a unix socket only root can open: the socket is 0600 inside a 0700
// directory, so there is no window in which another user could connect.
import { chmod, lstat, mkdir, unlink } from "node:fs/promises";
import { connect } from "node:net";
import path from "node:path";
import type { FastifyInstance } from "fastify";

export async function listenUnix(app: FastifyInstance, socketPath: string): Promise<void> {
  const dir = path.dirname(socketPath);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const dirStat = await lstat(dir);
  // Never tighten a shared directory such as /tmp (sticky bit): that would break other users.
  if ((dirStat.mode & 0o1000) === 0) await chmod(dir, 0o700);
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
