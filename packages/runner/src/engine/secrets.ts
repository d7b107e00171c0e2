// Puts an environment's secrets (RunnerEnvSpec.secrets) on the tmpfs the OCI spec mounts at
// /run/secrets, right after `start` and before ensureRunning returns: Warren's init runs nothing
// of the user's, so no process of the environment exists yet that could read or race them.
// Files land in memory (the tmpfs), never on the host's disk; each is 0400 and owned by the
// environment's root. A file secret with a path elsewhere (/etc/app/app.conf) is a symlink there
// into the tmpfs: the image's disk holds the link, never the value. Variables go into /run/secrets/.env (also 0400) as shell-quoted lines,
// which `exec` sources inside (execWithSecrets). Nothing here logs a value.
//
// How the bytes get in is the runtime driver's business (Runtime.deliverFiles): runc and crun
// use a host helper that joins the environment's namespaces and cgroup, gVisor a `runsc exec`
// inside its sandbox. Neither runs a binary of the image on the host side (see the rule at the
// top of runtime/types.ts): an image's /bin/sh run by nsenter reached the host's loopback.
import { rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { SECRETS_DIR, SECRETS_ENV_FILE, type SecretDelivery, secretPathProblem } from "@warren/protocol";
import type { DeliveredFile, Runtime } from "../runtime/types.ts";

/** In the environment's host directory, without a value: "exec must source the variables". */
const ENV_MARKER = "secret-env";
/** Likewise: "this start's secrets are in place" (a daemon killed before that redelivers). */
const DELIVERED_MARKER = "secrets-delivered";

/** `NAME='value'` lines for `.` in sh. */
export function envFileText(secrets: readonly SecretDelivery[]): string {
  return secrets
    .filter((s) => s.kind === "env")
    .map((s) => `${s.name}='${s.value.replaceAll("'", `'\\''`)}'\n`)
    .join("");
}

/**
 * The tmpfs file behind a secret whose path is outside SECRETS_DIR: the path with each '/' as
 * '~'. One path always gives one name, and no secret's own name can take it ('~' is in neither
 * names nor paths, secretPathProblem).
 */
export function secretStoreName(p: string): string {
  return p.replaceAll("/", "~");
}

/**
 * The files to deliver into SECRETS_DIR. A path in SECRETS_DIR is a file there; any other
 * (e.g. /etc/app/app.conf) is a file there too, under secretStoreName, plus a symlink at the
 * path, so the value stays in memory. A path the server should have refused is refused again.
 */
export function secretFiles(secrets: readonly SecretDelivery[]): DeliveredFile[] {
  const files: DeliveredFile[] = [];
  for (const s of secrets) {
    if (s.kind !== "file") continue;
    const p = s.path ?? `${SECRETS_DIR}/${s.name}`;
    const problem = secretPathProblem(p);
    if (problem) throw new Error(`secret path ${p}: ${problem}`);
    if (path.posix.dirname(p) === SECRETS_DIR) files.push({ name: path.posix.basename(p), data: s.value });
    else files.push({ name: secretStoreName(p), data: s.value, link: p });
  }
  const env = envFileText(secrets);
  if (env) files.push({ name: path.posix.basename(SECRETS_ENV_FILE), data: env });
  return files;
}

/** Before `start`: the markers of an earlier run must not vouch for this one. */
export async function forgetSecrets(envDir: string): Promise<void> {
  await rm(path.join(envDir, DELIVERED_MARKER), { force: true });
  await rm(path.join(envDir, ENV_MARKER), { force: true });
}

/**
 * Delivers the secrets of a just-started container (again, if a daemon died halfway: every
 * file is replaced) and records, without a value, that they are in place and whether there are
 * variables. The caller stops the container when this fails.
 */
export async function deliverSecrets(
  rt: Runtime,
  containerId: string,
  envDir: string,
  secrets: readonly SecretDelivery[],
): Promise<void> {
  if (!secrets.length) return;
  const files = secretFiles(secrets);
  await rt.deliverFiles(containerId, SECRETS_DIR, files);
  if (files.some((f) => `${SECRETS_DIR}/${f.name}` === SECRETS_ENV_FILE)) {
    await writeFile(path.join(envDir, ENV_MARKER), "", { mode: 0o600 });
  }
  await writeFile(path.join(envDir, DELIVERED_MARKER), "", { mode: 0o600 });
}

const exists = (file: string) =>
  stat(file).then(
    () => true,
    () => false,
  );

/** Whether the environment got variable secrets at its last start. */
export function hasSecretEnv(envDir: string): Promise<boolean> {
  return exists(path.join(envDir, ENV_MARKER));
}

/** Whether the current run's secrets were delivered (false when it has none to deliver). */
export function secretsDelivered(envDir: string): Promise<boolean> {
  return exists(path.join(envDir, DELIVERED_MARKER));
}

/**
 * Wraps an exec'd command so it starts with the variables from /run/secrets/.env, read inside the
 * environment: the values are never in the exec's process.json on the host. Without the file
 * (no variable secrets, or a user who cannot read it) the command runs unchanged. The sh is the
 * image's, run by the runtime's exec as a process of the environment.
 */
export function execWithSecrets(cmd: string[]): string[] {
  const script = `if [ -r ${SECRETS_ENV_FILE} ]; then set -a; . ${SECRETS_ENV_FILE}; set +a; fi; exec "$@"`;
  return ["/bin/sh", "-c", script, cmd[0] ?? "sh", ...cmd];
}
