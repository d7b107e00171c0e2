import fs from "node:fs/promises";
import type { FetchedFeature, ProgressFn } from "@warren/protocol";
import { WarrenError } from "@warren/protocol";
import type { EngineContext } from "../engine/context.ts";
import { captureInside, type EnvExec } from "./context.ts";
import { addToCache, FEATURE_MAX_BYTES, fetched, scratchFile, tooBig } from "./features-cache.ts";

export type { EnvExec };

// $1: the Feature's folder, $2: the repository root. Exit 3: no such folder, 4: outside the
// repository (prints where it led), 5: no devcontainer-feature.json.
const TAR_SCRIPT = [
  'cd -P -- "$1" 2>/dev/null || exit 3',
  'd=$(pwd -P); r=$(cd -P -- "$2" 2>/dev/null && pwd -P) || exit 3',
  'case "$d/" in "$r"/*) ;; *) printf "%s" "$d" >&2; exit 4 ;; esac',
  "[ -f devcontainer-feature.json ] || exit 5",
  "if tar --version 2>/dev/null | grep -q GNU; then",
  "  exec tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf - .",
  "fi",
  "exec tar -cf - .",
].join("\n");

export async function fetchLocalFeature(
  ctx: EngineContext,
  exec: EnvExec,
  req: { envId: string; source: string; dir: string; repoRoot: string },
  progress: ProgressFn,
): Promise<FetchedFeature> {
  const what = `local Feature ${req.source}`;
  progress({ phase: "feature", message: `${what}: reading ${req.dir} inside the environment` });
  const file = await scratchFile(ctx, "tar");
  try {
    const { code, stderr, digest } = await tarInside(exec, req.envId, req.dir, req.repoRoot, file, what);
    if (code === 3) {
      throw new WarrenError(
        "INVALID_ARGUMENT",
        `${what}: there is no folder ${req.dir} in the environment; check the path (it is relative to the folder of devcontainer.json)`,
        { feature: req.source },
      );
    }
    if (code === 4) {
      throw new WarrenError(
        "INVALID_ARGUMENT",
        `${what} leads to ${stderr.trim() || "a folder"} outside the repository ${req.repoRoot} (through a symlink?); keep local Features inside the repository`,
        { feature: req.source },
      );
    }
    if (code === 5) {
      throw new WarrenError(
        "INVALID_ARGUMENT",
        `${what}: ${req.dir} has no devcontainer-feature.json; a Feature is a folder with devcontainer-feature.json and install.sh`,
        { feature: req.source },
      );
    }
    if (code !== 0) {
      throw new WarrenError(
        "INVALID_ARGUMENT",
        `${what}: tar inside the environment failed (exit ${code}): ${stderr.trim().slice(-500) || "no message"}`,
        { feature: req.source },
      );
    }
    return fetched(req.source, await addToCache(ctx, file, digest, what, progress));
  } finally {
    await fs.rm(file, { force: true });
  }
}

async function tarInside(
  exec: EnvExec,
  envId: string,
  dir: string,
  repoRoot: string,
  file: string,
  what: string,
): Promise<{ code: number; stderr: string; digest: string }> {
  const c = await captureInside(exec, envId, TAR_SCRIPT, [dir, repoRoot], file, FEATURE_MAX_BYTES);
  if (c.overflow) throw tooBig(what, FEATURE_MAX_BYTES);
  return c;
}
