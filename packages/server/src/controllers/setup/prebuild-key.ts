// What identifies a prebuild's disk template: the organisation, the normalized repository, the
// branch and the digest of the devcontainer configuration it was built from. The runner keeps
// templates by this key (hex, RunnerTemplates); the same inputs always give the same key, and
// a change in any of them gives another, so an old template can never stand for a new config.
import { createHash } from "node:crypto";
import { normalizeProject } from "@warren/protocol";

export interface TemplateKeyParts {
  orgId: string;
  /** Normalized (or a URL, normalized here). */
  repo: string;
  /** "" for the remote's default branch. */
  branch: string;
  configDigest: string;
}

export function templateKey(p: TemplateKeyParts): string {
  const h = createHash("sha256");
  // Length-prefixed, so no two different tuples hash the same text.
  for (const part of ["warren-prebuild-v1", p.orgId, normalizeProject(p.repo), p.branch, p.configDigest]) {
    h.update(`${Buffer.byteLength(part)}:${part}\n`);
  }
  return h.digest("hex");
}

/**
 * sha256 of the configuration a prebuild depends on: devcontainer.json's path and text, and the
 * Dockerfile's when it builds one. No configuration at all has a digest too ("none").
 */
export function configDigest(files: { path: string; text: string | undefined }[]): string {
  const h = createHash("sha256");
  const present = files.filter((f) => f.text !== undefined);
  if (present.length === 0) return "sha256:none";
  for (const f of present) {
    h.update(`${Buffer.byteLength(f.path)}:${f.path}\n`);
    h.update(`${Buffer.byteLength(f.text as string)}:${f.text}\n`);
  }
  return `sha256:${h.digest("hex")}`;
}
