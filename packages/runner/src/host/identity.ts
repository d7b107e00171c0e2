// Who this runner is in its fleet: a name (a DNS label; default the hostname), placement labels,
// and a host id kept in the state root so the same host under a new token is recognised.
import { randomBytes } from "node:crypto";
import { linkSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import {
  RUNNER_LABEL_KEY_PATTERN,
  RUNNER_LABEL_VALUE_PATTERN,
  RUNNER_NAME_PATTERN,
  WarrenError,
} from "@warren/protocol";

const NAME_RE = new RegExp(RUNNER_NAME_PATTERN);
const KEY_RE = new RegExp(RUNNER_LABEL_KEY_PATTERN);
const VALUE_RE = new RegExp(RUNNER_LABEL_VALUE_PATTERN);
const HOST_ID_RE = /^[a-z0-9]{8,64}$/;
/** As many as the runner protocol carries (runner-schema.ts). */
export const MAX_LABELS = 32;

/** A hostname as a DNS label: `Build-01.example.com` → `build-01`. */
export function hostnameLabel(hostname = os.hostname()): string {
  const first = hostname.split(".")[0] ?? "";
  const label = first
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .slice(0, 63)
    .replace(/^-+|-+$/g, "");
  return label || "runner";
}

/** Checks a --name; throws a message that says what a name may be. */
export function checkRunnerName(name: string): string {
  if (!NAME_RE.test(name)) {
    throw new WarrenError(
      "INVALID_ARGUMENT",
      `runner name ${JSON.stringify(name)} is not a DNS label: use 1-63 lowercase letters, digits and ` +
        "hyphens, starting and ending with a letter or digit (for example --name build-01)",
    );
  }
  return name;
}

/** `["zone=eu", "gpu=none"]` → {zone:"eu", gpu:"none"}; each malformed item is named. */
export function parseLabels(items: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of items) {
    const eq = item.indexOf("=");
    const key = eq < 0 ? item : item.slice(0, eq);
    const value = eq < 0 ? "" : item.slice(eq + 1);
    if (eq < 0 || !KEY_RE.test(key) || key.length > 63 || !VALUE_RE.test(value) || value.length > 63) {
      throw new WarrenError(
        "INVALID_ARGUMENT",
        `label ${JSON.stringify(item)} must be KEY=VALUE: a key of lowercase letters, digits and . _ / - ` +
          "(for example zone or example.com/tier) and a value of letters, digits and . _ - " +
          "(for example --label zone=eu)",
      );
    }
    if (key in out && out[key] !== value) {
      throw new WarrenError(
        "INVALID_ARGUMENT",
        `label ${key} is given twice (${out[key]} and ${value}): keep one`,
      );
    }
    out[key] = value;
  }
  if (Object.keys(out).length > MAX_LABELS) {
    throw new WarrenError("INVALID_ARGUMENT", `at most ${MAX_LABELS} labels, got ${Object.keys(out).length}`);
  }
  return out;
}

/**
 * This state root's host id, made once (0600; written aside and linked into place, so two racing
 * starts agree on one and nobody reads a half-written file). A file
 * that does not hold a valid id is an error, not silently replaced: replacing it would make the
 * control plane see a new host and lose track of this one's environments.
 */
export function hostIdOf(root: string): string {
  const file = path.join(root, "host-id");
  const tmp = `${file}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;
  writeFileSync(tmp, `${randomBytes(16).toString("hex")}\n`, { mode: 0o600, flag: "wx" });
  try {
    linkSync(tmp, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
  } finally {
    unlinkSync(tmp);
  }
  const id = readFileSync(file, "utf8").trim();
  if (!HOST_ID_RE.test(id)) {
    throw new WarrenError(
      "INVALID_ARGUMENT",
      `${file} does not hold a host id (8-64 lowercase letters and digits): restore it from a backup, ` +
        "or delete it to make this runner a new host to the control plane",
    );
  }
  return id;
}
