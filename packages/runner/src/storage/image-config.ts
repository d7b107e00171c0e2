// The part of an OCI image config a container starts with (ImageLayers["config"]), as a container
// runtime reads it. Pure: shared by import, pull, the base image and the builder.
import type { OciConfig } from "./image-oci-layout.ts";
import type { ImageLayers } from "./types.ts";

const MAX_LABELS = 256;
const MAX_LABEL_BYTES = 1024 * 1024;

/** The effective command is Entrypoint + Cmd, as a container runtime would run it. */
export function imageConfig(cfg: OciConfig): ImageLayers["config"] {
  const c = cfg.config ?? {};
  const labels = imageLabelsOf(cfg);
  return {
    env: c.Env ?? ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
    cmd: [...(c.Entrypoint ?? []), ...(c.Cmd ?? [])],
    workingDir: c.WorkingDir || "/",
    user: c.User ?? "",
    ...(Object.keys(labels).length ? { labels } : {}),
  };
}

/**
 * The config's string labels. An image is hostile input: only string values are kept, and their
 * number and size are bounded so a record (and the wire answer made from it) stays small.
 */
export function imageLabelsOf(cfg: OciConfig): Record<string, string> {
  const raw = cfg.config?.Labels;
  const out: Record<string, string> = {};
  if (!raw || typeof raw !== "object" || Array.isArray(raw)) return out;
  let bytes = 0;
  for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
    if (typeof v !== "string" || Object.keys(out).length >= MAX_LABELS) continue;
    bytes += k.length + v.length;
    if (bytes > MAX_LABEL_BYTES || k.length > 4096) continue;
    out[k] = v;
  }
  return out;
}
