// A build's context and Dockerfile come out of the environment the way a user's files should: a
// tar made INSIDE the environment by its own tar (through the runtime's exec, in all its
// namespaces), after the real paths (symlinks resolved, inside) are checked to lie in the
// repository. The runner never follows a path into the environment's disk. On the host the tar
// is unpacked by the sandboxed warren-unpack (image-layer-unpack.ts), capped in size; its sha256
// is the context's digest for the build cache (GNU tar inside makes it reproducible: sorted
// names, fixed times and owners, so a fresh clone of the same commit gives the same digest).
import { createHash } from "node:crypto";
import { once } from "node:events";
import { createReadStream, createWriteStream } from "node:fs";
import fs from "node:fs/promises";
import {
  type ExecHandlers,
  type ExecRequest,
  type ExecSession,
  parseSize,
  WarrenError,
} from "@warren/protocol";
import { unpackLayer } from "../storage/image-layer-unpack.ts";
import type { ImageStore } from "../storage/image-store.ts";

export type EnvExec = (envId: string, req: ExecRequest, handlers: ExecHandlers) => Promise<ExecSession>;

export const DEFAULT_CONTEXT_MAX_BYTES = 2 * 1024 ** 3;
const DOCKERFILE_MAX_BYTES = 1024 * 1024;

export function contextMaxBytes(): number {
  const v = process.env["WARREN_BUILD_CONTEXT_MAX"];
  return v ? parseSize(v, "WARREN_BUILD_CONTEXT_MAX") : DEFAULT_CONTEXT_MAX_BYTES;
}

// $1: the path, $2: the repository root. Exit 3: missing, 4: outside the repository (prints the
// real path). Then the directory as a tar, or the file's bytes.
const CHECK = [
  'r=$(cd -P -- "$2" 2>/dev/null && pwd -P) || exit 3',
  'p=$(readlink -f -- "$1" 2>/dev/null) || exit 3',
  '[ -e "$p" ] || exit 3',
  'case "$p/" in "$r"/*) ;; *) printf "%s" "$p" >&2; exit 4 ;; esac',
];
const TAR_DIR = [
  ...CHECK,
  '[ -d "$p" ] || exit 3',
  'cd -- "$p" || exit 3',
  "if tar --version 2>/dev/null | grep -q GNU; then",
  "  exec tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf - .",
  "fi",
  "exec tar -cf - .",
].join("\n");
const CAT_FILE = [...CHECK, '[ -f "$p" ] || exit 3', 'exec cat -- "$p"'].join("\n");

export interface Captured {
  code: number;
  stderr: string;
  digest: string;
  bytes: number;
}

/** Runs `script` inside the environment as its root, its stdout to `file` (capped, hashed). */
export async function captureInside(
  exec: EnvExec,
  envId: string,
  script: string,
  args: string[],
  file: string,
  cap: number,
): Promise<Captured & { overflow: boolean }> {
  const out = createWriteStream(file, { flags: "wx", mode: 0o600 });
  const hash = createHash("sha256");
  let bytes = 0;
  let stderr = "";
  let overflow = false;
  let session: ExecSession | undefined;
  const status = new Promise<number>((resolve, reject) => {
    const handlers: ExecHandlers = {
      stdout(data) {
        if (overflow) return true;
        bytes += data.length;
        if (bytes > cap) {
          overflow = true;
          session?.signal("SIGKILL");
          return true;
        }
        hash.update(data);
        return out.write(data);
      },
      stderr(data) {
        if (stderr.length < 8192) stderr += Buffer.from(data).toString("utf8");
      },
      whenWritable: () => once(out, "drain").then(() => undefined),
      exit: resolve,
      error: reject,
    };
    exec(envId, { cmd: ["sh", "-c", script, "sh", ...args], tty: false, cwd: "/", user: "0" }, handlers).then(
      (s) => {
        session = s;
        s.endStdin();
        if (overflow) s.signal("SIGKILL");
      },
      reject,
    );
  });
  try {
    const code = await status;
    return { code, stderr, digest: `sha256:${hash.digest("hex")}`, bytes, overflow };
  } finally {
    out.end();
    await once(out, "close").catch(() => undefined);
  }
}

function explain(what: string, inside: string, repoRoot: string, c: Captured): void {
  if (c.code === 0) return;
  if (c.code === 3) {
    throw new WarrenError(
      "INVALID_ARGUMENT",
      `${what} ${inside} does not exist in the environment; check the path in devcontainer.json`,
      { path: inside },
    );
  }
  if (c.code === 4) {
    throw new WarrenError(
      "INVALID_ARGUMENT",
      `${what} ${inside} leads to ${c.stderr.trim() || "a path"} outside the repository ${repoRoot} (through a symlink?); keep it inside the repository`,
      { path: inside },
    );
  }
  throw new WarrenError(
    "INVALID_ARGUMENT",
    `${what} ${inside}: reading it inside the environment failed (exit ${c.code}): ${c.stderr.trim().slice(-500) || "no message"}`,
    { path: inside },
  );
}

/** The build context, unpacked into `dest` (which must not exist); returns its digest. */
export async function contextFromEnv(
  store: ImageStore,
  exec: EnvExec,
  o: { envId: string; context: string; repoRoot: string; dest: string },
): Promise<string> {
  const cap = contextMaxBytes();
  const file = await store.tmpPath("context.tar");
  try {
    const c = await captureInside(exec, o.envId, TAR_DIR, [o.context, o.repoRoot], file, cap);
    if (c.overflow) {
      throw new WarrenError(
        "INVALID_ARGUMENT",
        `build context ${o.context} is larger than ${cap} bytes; add a .dockerignore or raise WARREN_BUILD_CONTEXT_MAX`,
      );
    }
    explain("build context", o.context, o.repoRoot, c);
    await unpackLayer({
      what: `build context ${o.context}`,
      source: createReadStream(file),
      compression: "none",
      dest: o.dest,
      sandbox: { ...(await store.sandbox()), maxBytes: cap },
    });
    return c.digest;
  } finally {
    await store.releaseTmp(file);
  }
}

/** The Dockerfile's text, read inside the environment (it may sit outside the context). */
export async function dockerfileFromEnv(
  store: ImageStore,
  exec: EnvExec,
  o: { envId: string; dockerfile: string; repoRoot: string },
): Promise<string> {
  const file = await store.tmpPath("dockerfile");
  try {
    const c = await captureInside(
      exec,
      o.envId,
      CAT_FILE,
      [o.dockerfile, o.repoRoot],
      file,
      DOCKERFILE_MAX_BYTES,
    );
    if (c.overflow) {
      throw new WarrenError(
        "INVALID_ARGUMENT",
        `Dockerfile ${o.dockerfile} is larger than ${DOCKERFILE_MAX_BYTES} bytes`,
      );
    }
    explain("Dockerfile", o.dockerfile, o.repoRoot, c);
    return await fs.readFile(file, "utf8");
  } finally {
    await store.releaseTmp(file);
  }
}
