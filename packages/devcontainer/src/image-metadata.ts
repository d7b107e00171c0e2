// The devcontainer.metadata image label (a JSON array of entries, or one object), read tolerantly
// as the reference does: anything unreadable is skipped, never fatal. Values of the wrong type are
// dropped so the merge never sees them.
import { setOwn } from "./jsonc-tree.ts";
import type { ImageMetadataEntry } from "./types.ts";

type Pred = (v: unknown) => boolean;

const isStr: Pred = (v) => typeof v === "string";
const isBool: Pred = (v) => typeof v === "boolean";
const isObj = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === "object" && !Array.isArray(v);
const isStrArray: Pred = (v) => Array.isArray(v) && v.every(isStr);
const isStrRecord: Pred = (v) => isObj(v) && Object.values(v).every(isStr);
const isCommand: Pred = (v) =>
  isStr(v) || isStrArray(v) || (isObj(v) && Object.values(v).every((c) => isStr(c) || isStrArray(c)));
const isMount: Pred = (v) => isStr(v) || (isObj(v) && isStr(v["target"]));
const isPortAttrs: Pred = (v) => isObj(v);

/** The properties an entry may carry, each with its type test. */
export const METADATA_PROPERTIES: Record<keyof ImageMetadataEntry, Pred> = {
  id: isStr,
  init: isBool,
  privileged: isBool,
  capAdd: isStrArray,
  securityOpt: isStrArray,
  entrypoint: isStr,
  mounts: (v) => Array.isArray(v) && v.every(isMount),
  customizations: isObj,
  onCreateCommand: isCommand,
  updateContentCommand: isCommand,
  postCreateCommand: isCommand,
  postStartCommand: isCommand,
  postAttachCommand: isCommand,
  waitFor: isStr,
  remoteUser: isStr,
  containerUser: isStr,
  userEnvProbe: isStr,
  remoteEnv: (v) => isObj(v) && Object.values(v).every((x) => x === null || isStr(x)),
  containerEnv: isStrRecord,
  overrideCommand: isBool,
  portsAttributes: (v) => isObj(v) && Object.values(v).every(isPortAttrs),
  otherPortsAttributes: isPortAttrs,
  forwardPorts: (v) => Array.isArray(v) && v.every((p) => isStr(p) || Number.isInteger(p)),
  shutdownAction: isStr,
  updateRemoteUserUID: isBool,
  hostRequirements: isObj,
};

/** Keeps the known, well-typed properties of one entry (JSON copies, never shared references). */
export function sanitizeEntry(raw: unknown): ImageMetadataEntry | undefined {
  if (!isObj(raw)) return undefined;
  const out: Record<string, unknown> = {};
  for (const [k, test] of Object.entries(METADATA_PROPERTIES)) {
    if (!Object.hasOwn(raw, k)) continue;
    const v = raw[k];
    if (!test(v)) continue;
    try {
      setOwn(out, k, structuredClone(v));
    } catch {
      // Too deep to copy: skipped, as any other unreadable part of a label.
    }
  }
  return out as ImageMetadataEntry;
}

/** Parses the devcontainer.metadata label value; [] when absent or unreadable. */
export function imageMetadata(labelJson: string | undefined): ImageMetadataEntry[] {
  if (labelJson === undefined || labelJson.trim() === "") return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(labelJson);
  } catch {
    return [];
  }
  const list = Array.isArray(parsed) ? parsed : isObj(parsed) ? [parsed] : [];
  return list.map(sanitizeEntry).filter((e): e is ImageMetadataEntry => e !== undefined);
}
