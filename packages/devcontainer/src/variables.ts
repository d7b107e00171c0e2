// ${...} variables in devcontainer.json values, resolved in the reference's order: local ones
// (localEnv, localWorkspaceFolder, containerWorkspaceFolder), then ${devcontainerId}, then (once the
// container's environment is known) ${containerEnv:X}. Unknown variables stay as written.
// localEnv is the CLI user's environment at create time, never the runner host's.
import { createHash } from "node:crypto";
import { WarrenError } from "@warren/protocol";
import { setOwn } from "./jsonc-tree.ts";

export interface SubstitutionVars {
  localWorkspaceFolder: string;
  containerWorkspaceFolder: string;
  localEnv: Record<string, string>;
  /** The container's environment; absent until the container runs (${containerEnv:X} stays). */
  containerEnv?: Record<string, string>;
  devcontainerId: string;
}

const VARIABLE = /\$\{(.*?)\}/g;

type Replace = (match: string, name: string, args: string[]) => string;

function resolveString(value: string, replace: Replace): string {
  return value.replace(VARIABLE, (match: string, inner: string) => {
    const [name = "", ...args] = inner.split(":");
    return replace(match, name, args);
  });
}

function walk(value: unknown, replace: Replace): unknown {
  if (typeof value === "string") return resolveString(value, replace);
  if (Array.isArray(value)) return value.map((v) => walk(v, replace));
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) setOwn(out, k, walk(v, replace));
    return out;
  }
  return value;
}

/** A missing variable is empty, as in a shell; ${localEnv:X:default} gives the default instead. */
function lookup(env: Record<string, string>, args: string[], match: string): string {
  const name = args[0];
  if (name === undefined || name === "") {
    throw new WarrenError(
      "INVALID_ARGUMENT",
      `${match} names no variable; write it as \${localEnv:NAME} or \${localEnv:NAME:default}`,
    );
  }
  const v = Object.hasOwn(env, name) ? env[name] : undefined;
  if (typeof v === "string") return v;
  return args.length > 1 ? args[1]! : "";
}

function basename(p: string): string {
  const parts = p.split(/[/\\]/).filter((s) => s !== "");
  return parts[parts.length - 1] ?? "";
}

/**
 * Resolves the variables in any JSON value (a config, an image metadata entry, a Feature's
 * contribution). A new value is returned; the input is not changed.
 */
export function substituteVariables<T>(value: T, vars: SubstitutionVars): T {
  const local: Replace = (match, name, args) => {
    switch (name) {
      case "env":
      case "localEnv":
        return lookup(vars.localEnv, args, match);
      case "localWorkspaceFolder":
        return vars.localWorkspaceFolder;
      case "localWorkspaceFolderBasename":
        return basename(vars.localWorkspaceFolder);
      case "containerWorkspaceFolder":
        return containerFolder;
      case "containerWorkspaceFolderBasename":
        return basename(containerFolder);
      default:
        return match;
    }
  };
  // The container folder may itself use local variables (workspaceFolder: "/w/${localWorkspaceFolderBasename}").
  let containerFolder = vars.containerWorkspaceFolder;
  containerFolder = resolveString(containerFolder, local);
  let out = walk(value, local);
  out = walk(out, (match, name) => (name === "devcontainerId" ? vars.devcontainerId : match));
  const containerEnv = vars.containerEnv;
  if (containerEnv) {
    out = walk(out, (match, name, args) =>
      name === "containerEnv" ? lookup(containerEnv, args, match) : match,
    );
  }
  return out as T;
}

/** The names of the local environment variables a configuration uses (the CLI sends only those). */
export function localEnvNames(text: string): string[] {
  const names = new Set<string>();
  for (const m of text.matchAll(VARIABLE)) {
    const [name, arg] = (m[1] ?? "").split(":");
    if ((name === "localEnv" || name === "env") && arg) names.add(arg);
  }
  return [...names].sort();
}

/**
 * ${devcontainerId}: the reference's id for a set of labels (it uses devcontainer.local_folder and
 * devcontainer.config_file): sha256 of the labels as JSON with sorted keys, in base 32, 52 digits.
 */
export function devcontainerId(labels: Record<string, string>): string {
  const json = JSON.stringify(labels, Object.keys(labels).sort());
  const hex = createHash("sha256").update(json, "utf8").digest("hex");
  return BigInt(`0x${hex}`).toString(32).padStart(52, "0");
}
