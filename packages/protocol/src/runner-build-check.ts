// Checks a build request (runner-build.ts) before anything runs, the same way in the real runner
// and in the test fake, so both refuse the same requests with the same words. The wire schema
// already bounds sizes; this checks meaning: paths that stay inside the repository, names a
// Dockerfile can take, something to build.
import path from "node:path";
import { WarrenError } from "./errors.ts";
import type { BuildImageRequest } from "./runner-build.ts";

const TARGET_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
const ARG_NAME_RE = /^[A-Za-z_][A-Za-z0-9_.-]{0,255}$/;

function bad(message: string, field: string): never {
  throw new WarrenError("INVALID_ARGUMENT", message, { field });
}

/** An absolute, clean path inside an environment (no `..`, no NUL); returns it normalised. */
export function checkInsidePath(p: string, what: string): string {
  if (!p.startsWith("/") || p.includes("\0")) {
    bad(`${what} ${JSON.stringify(p.slice(0, 200))} must be an absolute path inside the environment`, what);
  }
  return path.posix.normalize(p).replace(/(.)\/+$/, "$1");
}

/**
 * `p` (absolute inside the environment) must be `root` or below it. The message shows the path as
 * the repository writes it (relative), which is what a developer finds in devcontainer.json.
 */
export function checkInsideRepo(root: string, p: string, what: string): string {
  const cleanRoot = checkInsidePath(root, "repoRoot");
  const clean = checkInsidePath(p, what);
  const rel = path.posix.relative(cleanRoot, clean);
  if (rel === ".." || rel.startsWith("../") || path.posix.isAbsolute(rel)) {
    bad(
      `${what} ${rel} escapes the repository (${cleanRoot}): keep it inside the repository, e.g. "context": ".."` +
        " from .devcontainer/ reaches the repository root and no further",
      what,
    );
  }
  return clean;
}

/** Throws INVALID_ARGUMENT naming the first thing wrong with `req`; returns its paths normalised. */
export function checkBuildRequest(req: BuildImageRequest): BuildImageRequest {
  const repoRoot = checkInsidePath(req.repoRoot, "repoRoot");
  if (!req.dockerfile && !req.baseImage) {
    bad(
      "nothing to build: give a Dockerfile (build.dockerfile) or a base image for the Features",
      "dockerfile",
    );
  }
  const out: BuildImageRequest = { ...req, repoRoot };
  if (req.dockerfile) {
    const d = req.dockerfile;
    out.dockerfile = {
      ...d,
      context: checkInsideRepo(repoRoot, d.context, "build context"),
      dockerfile: checkInsideRepo(repoRoot, d.dockerfile, "Dockerfile"),
    };
    if (d.target !== undefined && !TARGET_RE.test(d.target)) {
      bad(
        `build target ${JSON.stringify(d.target.slice(0, 80))} is not a stage name (letters, digits, _ . -)`,
        "target",
      );
    }
    for (const [k, v] of Object.entries(d.args ?? {})) {
      if (!ARG_NAME_RE.test(k) || v.includes("\0")) {
        bad(
          `build arg ${JSON.stringify(k.slice(0, 80))} is not a valid ARG name (letters, digits, _; no NUL in values)`,
          "args",
        );
      }
    }
  }
  for (const f of req.features ?? []) {
    if (!/^sha256:[0-9a-f]{64}$/.test(f.digest)) {
      bad(
        `Feature ${JSON.stringify(f.id.slice(0, 80))} has no content digest: fetch it with fetchFeature first`,
        "features",
      );
    }
    for (const [k, v] of Object.entries(f.options)) {
      if (!/^[A-Z_][A-Z0-9_]*$/.test(k) || (typeof v === "string" && v.includes("\0"))) {
        bad(
          `Feature ${f.id} option ${JSON.stringify(k.slice(0, 80))} must be an upper-case variable name`,
          "features",
        );
      }
    }
  }
  return out;
}
