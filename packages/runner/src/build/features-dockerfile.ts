// The Dockerfile and build-context files that layer Features onto an image, shaped as the
// reference CLI (@devcontainers/cli) lays them out: each Feature's folder is copied under
// /tmp/dev-container-features/<dir>, its options are written to devcontainer-features.env, and a
// wrapper sources the built-in env (_REMOTE_USER, _CONTAINER_USER and their homes) and the options
// before running install.sh as root. A Feature's containerEnv is set (ENV) before its install, so
// later Features and the install itself see it, and the image's user is restored at the end;
// the devcontainer.metadata label goes to the builder as a label, outside the Dockerfile.
// Pure: the caller writes the files and runs the build.
import { WarrenError } from "@warren/protocol";

export const FEATURES_DIR = "/tmp/dev-container-features";
export const BUILTIN_ENV = "devcontainer-features.builtin.env";
export const OPTIONS_ENV = "devcontainer-features.env";
export const INSTALL_WRAPPER = "devcontainer-features-install.sh";
export const METADATA_LABEL = "devcontainer.metadata";

export interface FeatureLayer {
  /** Folder name in the build context holding the Feature's files (see featureDirName). */
  dir: string;
  id: string;
  name?: string;
  version?: string;
  documentationURL?: string;
  /** Option values after defaults; names are sanitised again with optionEnvName. */
  options: Record<string, string | boolean>;
  containerEnv?: Record<string, string>;
}

export interface FeaturesDockerfileInput {
  /** The FROM image. */
  base: string;
  /** The base image's own user, restored after the installs ("" = root). */
  imageUser: string;
  containerUser: string;
  remoteUser: string;
  features: FeatureLayer[];
}

/** The option name as an environment variable, exactly as the reference makes it. */
export function optionEnvName(name: string): string {
  return name
    .replace(/[^\w_]/g, "_")
    .replace(/^[\d_]+/g, "_")
    .toUpperCase();
}

/** devcontainer-features.env: one NAME="value" line per option, sourced by sh with `set -a`. */
export function optionsEnvFile(options: Record<string, string | boolean>): string {
  const lines: string[] = [];
  for (const [name, value] of Object.entries(options)) {
    if (typeof value !== "string" && typeof value !== "boolean") {
      throw new WarrenError(
        "INVALID_ARGUMENT",
        `Feature option ${name}: a value must be a string or a boolean, not ${value === null ? "null" : typeof value}`,
      );
    }
    const key = optionEnvName(name);
    if (key === "" || key === "_") {
      throw new WarrenError(
        "INVALID_ARGUMENT",
        `Feature option "${name}" has no usable name; use letters, digits and _`,
      );
    }
    // The value is literal: quoted so that the sourcing shell expands nothing in it.
    lines.push(`${key}="${String(value).replace(/[\\"$`]/g, "\\$&")}"`);
  }
  return lines.length ? `${lines.join("\n")}\n` : "";
}

const USER_NAME = /^(?:[A-Za-z_][A-Za-z0-9_.-]{0,31}\$?|\d{1,10})$/;

export function checkUserName(what: string, user: string): void {
  if (!USER_NAME.test(user)) {
    throw new WarrenError(
      "INVALID_ARGUMENT",
      `${what} "${user.slice(0, 64)}" is not a user name or uid; use letters, digits, . _ - (or a number)`,
    );
  }
}

export function builtinEnvFile(containerUser: string, remoteUser: string): string {
  checkUserName("containerUser", containerUser);
  checkUserName("remoteUser", remoteUser);
  return `_CONTAINER_USER=${containerUser}\n_REMOTE_USER=${remoteUser}\n`;
}

/** The passwd line of a user, by name or uid, with getent where the image has it. */
function passwdOf(user: string): string {
  const re = user.replace(/[.$]/g, "\\$&");
  // The leading space matters: "$((" would start arithmetic expansion in sh.
  return ` (command -v getent >/dev/null 2>&1 && getent passwd '${user}' || grep -E '^${re}:|^[^:]*:[^:]*:${re}:' /etc/passwd || true)`;
}

function shQuoteSingle(s: string): string {
  return s.replace(/'/g, "'\\''");
}

/** The wrapper run for each Feature: a banner, the env files, then install.sh (a failure names it). */
export function installWrapper(f: FeatureLayer): string {
  const q = (s: string | undefined) => shQuoteSingle((s ?? "").replace(/[\r\n]+/g, " "));
  const options = Object.entries(f.options)
    .map(([k, v]) => `    ${optionEnvName(k)}=${String(v)}`)
    .join("\n");
  const docs = f.documentationURL ? ` Look at the documentation at ${q(f.documentationURL)} for help.` : "";
  return `#!/bin/sh
set -e

on_exit () {
\t[ $? -eq 0 ] && exit
\techo 'ERROR: Feature "${q(f.name ?? f.id)}" (${q(f.id)}) failed to install!${docs}'
}

trap on_exit EXIT

echo ===========================================================================
echo 'Feature       : ${q(f.name ?? f.id)}'
echo 'Id            : ${q(f.id)}'
echo 'Version       : ${q(f.version)}'
echo 'Options       :'
echo '${q(options)}'
echo ===========================================================================

set -a
. ../${BUILTIN_ENV}
. ./${OPTIONS_ENV}
set +a

chmod +x ./install.sh
./install.sh
`;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * ENV instructions for a Feature's containerEnv; `${VAR}` in values expands as in the reference.
 * Variables go into as few instructions as possible (each is a build step), but a value that
 * names a variable set in the same instruction starts a new one: within one ENV, references see
 * the values from before it.
 */
export function envInstructions(env: Record<string, string> | undefined, owner: string): string[] {
  if (!env) return [];
  const out: string[] = [];
  let group: { keys: string[]; parts: string[] } = { keys: [], parts: [] };
  const flush = () => {
    if (group.parts.length) out.push(`ENV ${group.parts.join(" ")}`);
    group = { keys: [], parts: [] };
  };
  for (const [k, v] of Object.entries(env)) {
    if (!ENV_NAME.test(k)) {
      throw new WarrenError(
        "INVALID_ARGUMENT",
        `${owner}: containerEnv name "${k.slice(0, 64)}" is not a valid variable name (letters, digits, _)`,
      );
    }
    if (typeof v !== "string" || /[\r\n\0]/.test(v)) {
      throw new WarrenError("INVALID_ARGUMENT", `${owner}: containerEnv ${k} must be a one-line string`);
    }
    const refs = group.keys.some((g) => new RegExp(`\\$(\\{)?${g}(?![A-Za-z0-9_])`).test(v));
    if (refs) flush();
    group.keys.push(k);
    group.parts.push(`${k}="${v.replace(/(?=["\\])/g, "\\")}"`);
  }
  flush();
  return out;
}

/** A context folder name for the n-th Feature: its position keeps two of the same id apart. */
export function featureDirName(index: number, id: string): string {
  return `${index}-${id.replace(/[^A-Za-z0-9_.-]/g, "_").slice(0, 64)}`;
}

export function featuresDockerfile(input: FeaturesDockerfileInput): string {
  checkUserName("containerUser", input.containerUser);
  checkUserName("remoteUser", input.remoteUser);
  if (/[\s\0]/.test(input.base) || input.base === "") {
    throw new WarrenError(
      "INVALID_ARGUMENT",
      `base image "${input.base.slice(0, 200)}" is not an image reference`,
    );
  }
  const builtin = `${FEATURES_DIR}/${BUILTIN_ENV}`;
  // Each instruction is a build step with its own cost, so the context goes in with one COPY and
  // each Feature is one RUN (plus an ENV when it sets variables); the first RUN also records the
  // users' homes. The builder keeps no per-step layers, so nothing is lost by merging.
  const homes = [
    `chmod -R 0755 ${FEATURES_DIR}`,
    `echo "_CONTAINER_USER_HOME=$(${passwdOf(input.containerUser)} | cut -d: -f6)" >> ${builtin}`,
    `echo "_REMOTE_USER_HOME=$(${passwdOf(input.remoteUser)} | cut -d: -f6)" >> ${builtin}`,
  ];
  const out: string[] = [`FROM ${input.base}`, "USER root", `COPY . ${FEATURES_DIR}/`];
  for (const [i, f] of input.features.entries()) {
    if (!/^[A-Za-z0-9_.-]+$/.test(f.dir) || f.dir === "." || f.dir === "..") {
      throw new WarrenError("INVALID_ARGUMENT", `Feature folder "${f.dir}" is not a plain name`);
    }
    const dest = `${FEATURES_DIR}/${f.dir}`;
    const steps = [...(i === 0 ? homes : []), `cd ${dest}`, `./${INSTALL_WRAPPER}`, `rm -rf ${dest}`];
    out.push("", ...envInstructions(f.containerEnv, `Feature ${f.id}`), `RUN ${steps.join(" \\\n && ")}`);
  }
  if (input.features.length === 0) out.push("", `RUN ${homes.join(" \\\n && ")}`);
  const user = input.imageUser === "" ? "root" : checkedImageUser(input.imageUser);
  if (user !== "root" && user !== "0") out.push("", `USER ${user}`);
  return `${out.join("\n")}\n`;
}

function checkedImageUser(user: string): string {
  // The image config's User may be NAME, UID, NAME:GROUP or UID:GID.
  if (!/^[A-Za-z0-9_.$-]+(?::[A-Za-z0-9_.$-]+)?$/.test(user)) {
    throw new WarrenError("INVALID_ARGUMENT", `the base image's user "${user.slice(0, 64)}" is malformed`);
  }
  return user;
}

/**
 * The devcontainer.metadata label's value, checked to be JSON and compacted. It goes to the
 * builder as a label argument, never into the Dockerfile text, so nothing in it is expanded.
 */
export function compactMetadataLabel(json: string): string {
  try {
    return JSON.stringify(JSON.parse(json));
  } catch (err) {
    throw new WarrenError(
      "INVALID_ARGUMENT",
      `the devcontainer.metadata label is not JSON: ${(err as Error).message}`,
    );
  }
}
