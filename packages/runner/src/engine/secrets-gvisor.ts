// Secrets for gVisor environments. runsc's tmpfs lives inside the sandbox's own kernel (the
// Sentry), out of reach of /proc/PID/root and nsenter, so the files are written by a process
// `runsc exec` starts inside the sandbox, right after start: Warren's init runs nothing of the
// user's, so no process of the environment can run before they are in place (ensureRunning
// returns, and any exec is allowed, only after this). Values go over stdin, never argv. A marker
// in the environment's host directory (no value in it) tells exec to source the variables, as
// /proc/PID/root/run/secrets/.env does for runc and crun.
import { rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { SECRETS_DIR, SECRETS_ENV_FILE, type SecretDelivery } from "@warren/protocol";
import { startExec } from "../exec/exec-session.ts";
import type { Runtime } from "../runtime/types.ts";
import { envFileText, WRITE_SECRET_SCRIPT } from "./secrets.ts";

const MARKER = "secret-env";

export async function writeSecretsByExec(
  rt: Runtime,
  containerId: string,
  envDir: string,
  secrets: readonly SecretDelivery[],
  process: (args: string[]) => Record<string, unknown>,
): Promise<void> {
  await rm(path.join(envDir, MARKER), { force: true });
  const files = secrets
    .filter((s) => s.kind === "file")
    .map((s) => ({ rel: s.path ?? `${SECRETS_DIR}/${s.name}`, data: s.value }));
  const env = envFileText(secrets);
  if (env) files.push({ rel: SECRETS_ENV_FILE, data: env });
  for (const f of files) {
    const rel = path.posix.normalize(f.rel);
    if (path.posix.dirname(rel) !== SECRETS_DIR)
      throw new Error(`secret path ${rel} is not in ${SECRETS_DIR}`);
    const code = await new Promise<number>((resolve, reject) => {
      let err = "";
      startExec(
        {
          runtime: rt,
          containerId,
          process: process(["/bin/sh", "-c", WRITE_SECRET_SCRIPT, "sh", rel]),
          tmpDir: envDir,
          tty: false,
          cols: 80,
          rows: 24,
        },
        {
          stdout: () => {},
          stderr: (d) => {
            err += Buffer.from(d).toString();
          },
          exit: (c) =>
            c === 0 ? resolve(0) : reject(new Error(`writing ${rel} exited ${c}: ${err.trim()}`)),
          error: reject,
        },
      ).then((s) => {
        s.stdin(Buffer.from(f.data));
        s.endStdin();
      }, reject);
    });
    void code;
  }
  if (env) await writeFile(path.join(envDir, MARKER), "", { mode: 0o600 });
}

/** Whether a gVisor environment was given variable secrets at its last start. */
export function hasSecretEnvMarker(envDir: string): Promise<boolean> {
  return stat(path.join(envDir, MARKER)).then(
    () => true,
    () => false,
  );
}
