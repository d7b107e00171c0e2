// What a class asks of the runners its environments land on: labels each runner must carry
// (`warren class create --require-label zone=eu`) and how far placement may overcommit a runner's
// CPU and memory for them. Shared by the CLI (to refuse bad flags before a request) and the server
// (which checks every request again: a client's word is not trusted).
import { WarrenError } from "./errors.ts";
import { RUNNER_LABEL_KEY_PATTERN, RUNNER_LABEL_VALUE_PATTERN } from "./runner.ts";

const KEY_RE = new RegExp(RUNNER_LABEL_KEY_PATTERN);
const VALUE_RE = new RegExp(RUNNER_LABEL_VALUE_PATTERN);
/** As many labels as a runner may carry (runner-schema.ts): more could never all match. */
export const MAX_REQUIRED_LABELS = 32;

/** CPU overcommit: sum of CPU limits over a runner's cores. Default 4:1. */
export const CPU_OVERCOMMIT = { min: 1, max: 64, default: 4 } as const;
/** Memory overcommit: sum of memory limits over a runner's memory. Default 1:1, at most 1.5:1. */
export const MEMORY_OVERCOMMIT = { min: 1, max: 1.5, default: 1 } as const;
/**
 * Disk overcommit: sum of --disk sizes over a runner's free disk. Disks are sparse and a
 * development environment writes a fraction of its size, so the default is 4:1; 1:1 reserves
 * every byte up front.
 */
export const DISK_OVERCOMMIT = { min: 1, max: 64, default: 4 } as const;

const LABEL_HELP =
  "a key of lowercase letters, digits and . _ / - (for example zone or example.com/tier) and a value of " +
  "letters, digits and . _ - (for example --require-label zone=eu)";

function badLabel(message: string): never {
  throw new WarrenError("INVALID_ARGUMENT", message, { field: "requiredLabels" });
}

/** One label pair as a class may require it; throws naming the pair and the rules. */
function checkPair(key: string, value: unknown): string {
  if (typeof value !== "string") badLabel(`required label ${key} must have a string value (${LABEL_HELP})`);
  if (!KEY_RE.test(key) || key.length > 63 || !VALUE_RE.test(value) || value.length > 63) {
    badLabel(`required label ${JSON.stringify(`${key}=${value}`)} is not KEY=VALUE with ${LABEL_HELP}`);
  }
  return value;
}

/** A class's required labels as a request carries them (an object of strings), checked. */
export function checkRequiredLabels(labels: unknown): Record<string, string> {
  if (labels === undefined || labels === null) return {};
  if (typeof labels !== "object" || Array.isArray(labels)) {
    badLabel(`required labels must be an object of KEY: VALUE strings, e.g. {"zone": "eu"}`);
  }
  const entries = Object.entries(labels as Record<string, unknown>);
  if (entries.length > MAX_REQUIRED_LABELS) {
    badLabel(`a class may require at most ${MAX_REQUIRED_LABELS} labels, got ${entries.length}`);
  }
  const out: Record<string, string> = {};
  for (const [key, value] of entries) out[key] = checkPair(key, value);
  return out;
}

/** `["zone=eu", "gpu=none"]` (repeated --require-label) → {zone: "eu", gpu: "none"}. */
export function parseRequiredLabels(items: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of items) {
    const eq = item.indexOf("=");
    if (eq < 0) badLabel(`--require-label ${JSON.stringify(item)} must be KEY=VALUE with ${LABEL_HELP}`);
    const key = item.slice(0, eq);
    const value = checkPair(key, item.slice(eq + 1));
    if (key in out && out[key] !== value) {
      badLabel(`--require-label ${key} is given twice (${out[key]} and ${value}); keep one`);
    }
    out[key] = value;
  }
  return checkRequiredLabels(out);
}

/** An overcommit ratio within its bounds; the message names the bounds and the default. */
export function checkOvercommit(kind: "cpu" | "memory" | "disk", ratio: unknown): number {
  const b = kind === "cpu" ? CPU_OVERCOMMIT : kind === "disk" ? DISK_OVERCOMMIT : MEMORY_OVERCOMMIT;
  const field = `${kind}Overcommit`;
  if (typeof ratio !== "number" || !Number.isFinite(ratio) || ratio < b.min || ratio > b.max) {
    const why =
      kind === "memory"
        ? "at most 1.5, because memory cannot be taken back from a running environment"
        : `at most ${b.max}`;
    throw new WarrenError(
      "INVALID_ARGUMENT",
      `${kind} overcommit ${String(ratio)} is out of bounds: use a number from ${b.min} to ${b.max} (${why}; default ${b.default})`,
      { field, min: b.min, max: b.max },
    );
  }
  return ratio;
}
