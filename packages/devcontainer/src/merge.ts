// The merged configuration, by the reference's rules (containers.dev "merge logic"): the image's
// devcontainer.metadata entries, then each Feature in install order, then devcontainer.json.
//   booleans (init, privileged): true if any says so;  capAdd, securityOpt: union;
//   containerEnv, remoteEnv, portsAttributes: later wins per key;  mounts: concatenated, deduplicated
//   by target (the later wins);  lifecycle hooks: one entry per source, in order;  entrypoints: all;
//   remoteUser, containerUser, waitFor, userEnvProbe, ...: the last that sets it;
//   forwardPorts: union;  hostRequirements: the largest of each.
import { sanitizeEntry } from "./image-metadata.ts";
import { setOwn } from "./jsonc-tree.ts";
import { mountTarget } from "./mounts.ts";
import type { DevcontainerConfig, ImageMetadataEntry, MergedConfig, MountSpec } from "./types.ts";

/** devcontainer.json properties that take part in the merge. */
const CONFIG_PROPERTIES = [
  "onCreateCommand",
  "updateContentCommand",
  "postCreateCommand",
  "postStartCommand",
  "postAttachCommand",
  "waitFor",
  "customizations",
  "mounts",
  "containerEnv",
  "containerUser",
  "init",
  "privileged",
  "capAdd",
  "securityOpt",
  "remoteUser",
  "userEnvProbe",
  "remoteEnv",
  "overrideCommand",
  "portsAttributes",
  "otherPortsAttributes",
  "forwardPorts",
  "shutdownAction",
  "updateRemoteUserUID",
  "hostRequirements",
] as const;

/**
 * What a Feature's devcontainer-feature.json contributes to the merge. Its containerEnv is not
 * merged here: the Feature build bakes it into the image as ENV, as the reference does.
 */
const FEATURE_PROPERTIES = [
  "onCreateCommand",
  "updateContentCommand",
  "postCreateCommand",
  "postStartCommand",
  "postAttachCommand",
  "init",
  "privileged",
  "capAdd",
  "securityOpt",
  "entrypoint",
  "mounts",
  "customizations",
] as const;

/** Properties of devcontainer.json replaced by merged ones (hooks become arrays, etc.). */
const REPLACED = [
  "customizations",
  "entrypoint",
  "onCreateCommand",
  "updateContentCommand",
  "postCreateCommand",
  "postStartCommand",
  "postAttachCommand",
  "shutdownAction",
];

export interface FeatureContributions extends ImageMetadataEntry {}

/**
 * What a Feature adds: its containerEnv (image ENV), mounts, init, privileged, capAdd,
 * securityOpt, entrypoint and lifecycle hooks. Wrongly typed values are dropped.
 */
export function featureContributions(metadata: Record<string, unknown>): FeatureContributions {
  const clean = sanitizeEntry(metadata) ?? {};
  const out: Record<string, unknown> = {};
  for (const k of [...FEATURE_PROPERTIES, "containerEnv"] as const) {
    if (Object.hasOwn(clean, k)) setOwn(out, k, clean[k]);
  }
  return out as FeatureContributions;
}

/** Where each policy-relevant value came from, for messages that name the source. */
export interface MergeOrigins {
  privileged: string[];
  capAdd: Map<string, string>;
  securityOpt: Map<string, string>;
  mounts: Map<string, string>;
}

const origins = new WeakMap<MergedConfig, MergeOrigins>();

export function mergeOrigins(merged: MergedConfig): MergeOrigins | undefined {
  return origins.get(merged);
}

function pick(obj: object, keys: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of keys) if (Object.hasOwn(obj, k)) setOwn(out, k, (obj as Record<string, unknown>)[k]);
  return out;
}

function lastSet<K extends keyof ImageMetadataEntry>(
  entries: ImageMetadataEntry[],
  key: K,
  test: (v: unknown) => boolean = (v) => !!v,
): ImageMetadataEntry[K] | undefined {
  for (let i = entries.length - 1; i >= 0; i--) {
    const v = entries[i]![key];
    if (test(v)) return v;
  }
  return undefined;
}

function assignAll<T>(records: (Record<string, T> | undefined)[]): Record<string, T> {
  const out: Record<string, T> = {};
  for (const r of records) if (r) for (const [k, v] of Object.entries(r)) setOwn(out, k, v);
  return out;
}

function union(lists: (string[] | undefined)[]): string[] | undefined {
  const values = [...new Set(lists.flatMap((l) => l ?? []))];
  return values.length ? values : undefined;
}

function mergeMounts(entries: ImageMetadataEntry[]): MountSpec[] | undefined {
  const seen = new Set<string>();
  const kept: MountSpec[] = [];
  const all = entries.flatMap((e) => e.mounts ?? []);
  for (let i = all.length - 1; i >= 0; i--) {
    const target = mountTarget(all[i]!);
    if (seen.has(target)) continue;
    seen.add(target);
    kept.unshift(all[i]!);
  }
  return kept.length ? kept : undefined;
}

function mergeForwardPorts(entries: ImageMetadataEntry[]): (number | string)[] | undefined {
  const keys = new Set<string>();
  for (const e of entries)
    for (const p of e.forwardPorts ?? []) keys.add(typeof p === "number" ? `localhost:${p}` : p);
  const out = [...keys].map((k) => (/^localhost:\d+$/.test(k) ? Number(k.slice("localhost:".length)) : k));
  return out.length ? out : undefined;
}

/** Sizes as the spec writes them ("8gb", "512mb", bytes); 0 when unreadable. */
export function parseBytes(s: string | undefined): number {
  const m = /^(\d+)([tgmk]b)?$/.exec(s ?? "");
  if (!m) return 0;
  const unit = m[2]
    ? { t: 2 ** 40, g: 2 ** 30, m: 2 ** 20, k: 2 ** 10 }[m[2][0] as "t" | "g" | "m" | "k"]
    : 1;
  return Number(m[1]) * unit;
}

function mergeHostRequirements(entries: ImageMetadataEntry[]): MergedConfig["hostRequirements"] {
  const reqs = entries.map((e) => e.hostRequirements).filter((h) => h !== undefined);
  const cpus = Math.max(0, ...reqs.map((h) => (typeof h.cpus === "number" ? h.cpus : 0)));
  const memory = Math.max(0, ...reqs.map((h) => parseBytes(h.memory)));
  const storage = Math.max(0, ...reqs.map((h) => parseBytes(h.storage)));
  const gpuWanted = reqs.some((h) => h.gpu === true || (typeof h.gpu === "object" && h.gpu !== null));
  const gpuOptional = reqs.some((h) => h.gpu === "optional");
  if (!cpus && !memory && !storage && !gpuWanted && !gpuOptional) return undefined;
  const out: NonNullable<MergedConfig["hostRequirements"]> = { cpus };
  if (memory) out.memory = String(memory);
  if (storage) out.storage = String(storage);
  if (gpuWanted) out.gpu = true;
  else if (gpuOptional) out.gpu = "optional";
  return out;
}

/**
 * Merges devcontainer.json (already substituted) over the image's metadata entries and the
 * Features (in install order, each its devcontainer-feature.json).
 */
export function mergeConfiguration(
  config: DevcontainerConfig,
  metadata: ImageMetadataEntry[],
  features: { id: string; metadata: Record<string, unknown> }[],
): MergedConfig {
  const sources: { name: string; entry: ImageMetadataEntry }[] = [];
  for (const e of metadata)
    sources.push({
      name: e.id ? `Feature ${e.id} (in the image's label)` : "the image's devcontainer.metadata label",
      entry: e,
    });
  for (const f of features) {
    const { containerEnv: _imageEnv, ...contrib } = featureContributions(f.metadata);
    sources.push({ name: `Feature ${f.id}`, entry: { id: f.id, ...contrib } });
  }
  sources.push({ name: "devcontainer.json", entry: pick(config, CONFIG_PROPERTIES) as ImageMetadataEntry });
  const used = sources.filter((s) => Object.keys(s.entry).length > 0);
  const entries = used.map((s) => s.entry);

  const customizations: Record<string, unknown[]> = {};
  for (const e of entries) {
    for (const [k, v] of Object.entries(e.customizations ?? {})) {
      if (Object.hasOwn(customizations, k)) customizations[k]!.push(v);
      else setOwn(customizations, k, [v]);
    }
  }
  const hooks = (
    k:
      | "onCreateCommand"
      | "updateContentCommand"
      | "postCreateCommand"
      | "postStartCommand"
      | "postAttachCommand",
  ) => entries.map((e) => e[k]).filter((c) => !!c) as NonNullable<ImageMetadataEntry[typeof k]>[];
  const entrypoints = entries.map((e) => e.entrypoint).filter((x): x is string => !!x);

  const copy: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(config)) if (!REPLACED.includes(k)) setOwn(copy, k, v);
  const merged = {
    ...copy,
    init: entries.some((e) => e.init === true),
    privileged: entries.some((e) => e.privileged === true),
    capAdd: union(entries.map((e) => e.capAdd)),
    securityOpt: union(entries.map((e) => e.securityOpt)),
    entrypoints: entrypoints.length ? entrypoints : undefined,
    mounts: mergeMounts(entries),
    customizations: Object.keys(customizations).length ? customizations : undefined,
    onCreateCommands: hooks("onCreateCommand"),
    updateContentCommands: hooks("updateContentCommand"),
    postCreateCommands: hooks("postCreateCommand"),
    postStartCommands: hooks("postStartCommand"),
    postAttachCommands: hooks("postAttachCommand"),
    waitFor: lastSet(entries, "waitFor"),
    remoteUser: lastSet(entries, "remoteUser"),
    containerUser: lastSet(entries, "containerUser"),
    userEnvProbe: lastSet(entries, "userEnvProbe"),
    remoteEnv: assignAll(entries.map((e) => e.remoteEnv)),
    containerEnv: assignAll(entries.map((e) => e.containerEnv)),
    overrideCommand: lastSet(entries, "overrideCommand", (v) => typeof v === "boolean"),
    portsAttributes: assignAll(entries.map((e) => e.portsAttributes)),
    otherPortsAttributes: lastSet(entries, "otherPortsAttributes"),
    forwardPorts: mergeForwardPorts(entries),
    shutdownAction: lastSet(entries, "shutdownAction"),
    updateRemoteUserUID: lastSet(entries, "updateRemoteUserUID", (v) => typeof v === "boolean"),
    hostRequirements: mergeHostRequirements(entries),
  } as MergedConfig;
  for (const [k, v] of Object.entries(merged))
    if (v === undefined) delete (merged as unknown as Record<string, unknown>)[k];

  const o: MergeOrigins = { privileged: [], capAdd: new Map(), securityOpt: new Map(), mounts: new Map() };
  for (const { name, entry } of used) {
    if (entry.privileged === true) o.privileged.push(name);
    for (const c of entry.capAdd ?? []) if (!o.capAdd.has(c)) o.capAdd.set(c, name);
    for (const s of entry.securityOpt ?? []) if (!o.securityOpt.has(s)) o.securityOpt.set(s, name);
    for (const m of entry.mounts ?? []) o.mounts.set(mountTarget(m), name);
  }
  origins.set(merged, o);
  return merged;
}
