// A Feature's option values for its install.sh: the defaults from devcontainer-feature.json,
// overridden by what devcontainer.json gives, under the spec's safe names (upper case, every
// character other than a letter, digit or _ turned into _, no leading digit or _).
import type { FeatureValue } from "./types.ts";

/** The environment variable name an option reaches install.sh under. */
export function featureOptionEnvName(option: string): string {
  return option
    .replace(/[^\w_]/g, "_")
    .replace(/^[\d_]+/g, "_")
    .toUpperCase();
}

function optionDefs(metadata: Record<string, unknown>): Record<string, unknown> {
  const o = metadata["options"];
  return o !== null && typeof o === "object" && !Array.isArray(o) ? (o as Record<string, unknown>) : {};
}

function scalar(v: unknown): string | boolean | undefined {
  if (typeof v === "string" || typeof v === "boolean") return v;
  if (typeof v === "number" && Number.isFinite(v)) return String(v);
  return undefined;
}

/**
 * Option values with defaults applied. A bare string or `true` in devcontainer.json sets the
 * `version` option when the Feature has one (as the reference does), and is otherwise ignored.
 */
export function featureOptions(
  metadata: Record<string, unknown>,
  given: FeatureValue | undefined,
): Record<string, string | boolean> {
  const defs = optionDefs(metadata);
  const values = new Map<string, string | boolean>();
  for (const [name, def] of Object.entries(defs)) {
    if (def !== null && typeof def === "object" && Object.hasOwn(def, "default")) {
      const d = scalar((def as Record<string, unknown>)["default"]);
      if (d !== undefined) values.set(name, d);
    }
  }
  if (given !== null && typeof given === "object") {
    for (const [name, v] of Object.entries(given)) {
      const s = scalar(v);
      if (s !== undefined) values.set(name, s);
    }
  } else if (given !== undefined && Object.hasOwn(defs, "version")) {
    values.set("version", given);
  }
  const out: Record<string, string | boolean> = {};
  for (const [name, v] of values) {
    Object.defineProperty(out, featureOptionEnvName(name), {
      value: v,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}
