// Puts an environment's secrets (RunnerEnvSpec.secrets) on the tmpfs the OCI spec mounts at
// /run/secrets, between `create` and `start`: the container's mounts exist, but none of its own
// code has run yet. Files are written from inside its namespaces (nsenter), so they land in the
// container's tmpfs (memory of that mount namespace) and never on the host's disk; they are owned
// by the environment's root and mode 0400 (written from inside its user namespace, see below). Variables go into /run/secrets/.env (also 0400) as
// shell-quoted lines, which `exec` sources (execWithSecrets). Nothing here logs a value.
import { lstat } from "node:fs/promises";
import path from "node:path";
import { SECRETS_DIR, SECRETS_ENV_FILE, type SecretDelivery } from "@warren/protocol";
import { run } from "../host/run.ts";

/** `NAME='value'` lines for `.` in sh. */
export function envFileText(secrets: readonly SecretDelivery[]): string {
  return secrets
    .filter((s) => s.kind === "env")
    .map((s) => `${s.name}='${s.value.replaceAll("'", `'\\''`)}'\n`)
    .join("");
}

/** Writes stdin to "$1" as a new 0400 file: never through a symlink (set -C is O_EXCL). */
export const WRITE_SECRET_SCRIPT = 'rm -f -- "$1" && set -C && umask 377 && cat > "$1"';

export async function writeSecrets(initPid: number, secrets: readonly SecretDelivery[]): Promise<void> {
  const root = `/proc/${initPid}/root`;
  // The image controls /run: refuse symlinks on the way to the tmpfs, so a hostile image cannot
  // point the writes at a path outside the container (/proc/PID/root follows absolute links
  // against the *host's* root).
  for (const dir of ["/run", SECRETS_DIR]) {
    const st = await lstat(path.join(root, dir));
    if (!st.isDirectory() || st.isSymbolicLink()) {
      throw new Error(`cannot deliver secrets: ${dir} in the environment is not a plain directory`);
    }
  }
  const files: Array<{ rel: string; data: string }> = secrets
    .filter((s) => s.kind === "file")
    .map((s) => ({ rel: s.path ?? `${SECRETS_DIR}/${s.name}`, data: s.value }));
  const env = envFileText(secrets);
  if (env) files.push({ rel: SECRETS_ENV_FILE, data: env });
  for (const f of files) {
    const rel = path.posix.normalize(f.rel);
    if (path.posix.dirname(rel) !== SECRETS_DIR)
      throw new Error(`secret path ${rel} is not in ${SECRETS_DIR}`);
    // The tmpfs belongs to the environment's user namespace: host root cannot create inodes in
    // it (EOVERFLOW, its uid is unmapped there). So the write runs inside the environment's user
    // and mount namespaces as its root (nsenter), before any of the environment's own processes
    // exist; it uses the image's sh, as `warren exec` would. The value goes over stdin, never
    // argv; `set -C` (O_EXCL) refuses to follow a symlink; umask 377 makes the file 0400.
    await run(
      "nsenter",
      [
        `--target=${initPid}`,
        "--user",
        "--mount",
        "--root",
        "--wd",
        "--",
        "/bin/sh",
        "-c",
        WRITE_SECRET_SCRIPT,
        "sh",
        rel,
      ],
      { input: f.data, env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" }, timeoutMs: 30_000 },
    );
  }
}

/**
 * Wraps an exec'd command so it starts with the variables from /run/secrets/.env, read inside the
 * environment: the values are never in the exec's process.json on the host. Without the file
 * (no variable secrets, or a user who cannot read it) the command runs unchanged.
 */
export function execWithSecrets(cmd: string[]): string[] {
  const script = `if [ -r ${SECRETS_ENV_FILE} ]; then set -a; . ${SECRETS_ENV_FILE}; set +a; fi; exec "$@"`;
  return ["/bin/sh", "-c", script, cmd[0] ?? "sh", ...cmd];
}
