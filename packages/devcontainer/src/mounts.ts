// Docker --mount strings ("type=volume,source=data,target=/data") as devcontainer.json writes them.
import { WarrenError } from "@warren/protocol";
import type { MountSpec } from "./types.ts";

export interface ParsedMount {
  /** Docker's default when `type` is absent is a volume. */
  type: string;
  source?: string;
  target: string;
  readonly: boolean;
  /** Every key as written (after src/dst aliases), for messages. */
  raw: Record<string, string>;
}

const ALIASES: Record<string, string> = { src: "source", destination: "target", dst: "target" };

function fields(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of text.split(",")) {
    const eq = part.indexOf("=");
    const rawKey = (eq < 0 ? part : part.slice(0, eq)).trim();
    const key = Object.hasOwn(ALIASES, rawKey) ? ALIASES[rawKey]! : rawKey;
    if (key === "" || key === "__proto__") continue;
    out[key] = eq < 0 ? "" : part.slice(eq + 1);
  }
  return out;
}

/** What is wrong with a mount string, or undefined when it is usable. */
export function mountProblem(text: string): string | undefined {
  const f = fields(text);
  if (!f["target"]) {
    return `mount ${JSON.stringify(text)} has no target; write it as "source=NAME,target=/path,type=volume"`;
  }
  if (!f["target"].startsWith("/")) {
    return `mount target ${JSON.stringify(f["target"])} is not an absolute path; use e.g. target=/data`;
  }
  return undefined;
}

/** Parses a mount (string or object); undefined when it has no target. */
export function parseMount(m: MountSpec): ParsedMount | undefined {
  if (typeof m === "object" && m !== null) {
    if (typeof m.target !== "string") return undefined;
    const raw: Record<string, string> = { type: String(m.type), target: m.target };
    if (typeof m.source === "string") raw["source"] = m.source;
    return { type: String(m.type ?? "volume"), source: m.source, target: m.target, readonly: false, raw };
  }
  if (typeof m !== "string") return undefined;
  const f = fields(m);
  if (f["target"] === undefined) return undefined;
  const ro = f["readonly"] ?? f["ro"];
  return {
    type: f["type"] || "volume",
    source: f["source"],
    target: f["target"],
    readonly: ro !== undefined && ro !== "false" && ro !== "0",
    raw: f,
  };
}

/** The target a mount is deduplicated by (as the reference does), or "" when there is none. */
export function mountTarget(m: MountSpec): string {
  if (typeof m === "object" && m !== null) return typeof m.target === "string" ? m.target : "";
  if (typeof m !== "string") return "";
  return fields(m)["target"] ?? "";
}

const VOLUME_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

/**
 * The named volumes a merged configuration asks for, as RunnerEnvSpec.volumes takes them. Call it
 * after checkPolicy (which refuses bind mounts). An anonymous volume is named after its target.
 */
export function volumeMounts(mounts: MountSpec[] | undefined): { name: string; target: string }[] {
  const out: { name: string; target: string }[] = [];
  for (const m of mounts ?? []) {
    const p = parseMount(m);
    if (p?.type !== "volume") continue;
    const name = p.source || `anon${p.target.replace(/[^A-Za-z0-9_.-]+/g, "-")}`;
    if (!VOLUME_NAME.test(name) || name.includes("..")) {
      throw new WarrenError(
        "INVALID_ARGUMENT",
        `volume name ${JSON.stringify(name)} (mount at ${p.target}) is not usable; use letters, digits, ".", "_" and "-" (at most 128)`,
        { property: "mounts", value: name },
      );
    }
    out.push({ name, target: p.target });
  }
  return out;
}
