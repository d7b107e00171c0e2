// Turns a CreateEnvRequest into a complete spec, checking it against its class and the runner.
// Everything here only reads, so a rejected request leaves nothing behind.
import {
  type CreateEnvRequest,
  checkEnvUser,
  checkResourceLimit,
  DEFAULT_CLASS,
  DEFAULT_ENV_USER,
  DEFAULT_IMAGE,
  type EnvSpec,
  formatEgress,
  formatSize,
  normalizeProject,
  parseSize,
  type RuntimeName,
  WarrenError,
} from "@warren/protocol";
import type { ClassRow } from "../store/queries/classes.ts";
import { egressFromColumn } from "../store/queries/egress.ts";

export interface SpecInputs {
  name: string;
  req: CreateEnvRequest;
  cls: ClassRow | undefined;
  /** What the organisation's runners offer (their runtimes, together). */
  info: { runtimes: readonly string[] };
  defaultRuntime: RuntimeName;
}

export function resolveSpec({ name, req, cls, info, defaultRuntime }: SpecInputs): EnvSpec {
  const className = req.className ?? DEFAULT_CLASS;
  if (!cls) {
    throw new WarrenError(
      "CLASS_NOT_FOUND",
      `class "${className}" does not exist; run \`warren class ls\` to see the classes`,
      {
        className,
      },
    );
  }
  // A value the request leaves out is the class's; a class stored before the limits existed
  // may hold one no environment can run with, and the refusal says where it came from.
  const fromClass = `class "${className}"'s default`;
  const cpus = req.cpus ?? cls.cpus;
  checkResourceLimit("cpus", cpus, "cpus", req.cpus === undefined ? fromClass : undefined);
  checkBound(className, "cpus", cpus, cls.max_cpus, String);
  const memoryBytes = req.memory !== undefined ? parseSize(req.memory, "memory") : cls.memory_bytes;
  checkResourceLimit("memory", memoryBytes, "memory", req.memory === undefined ? fromClass : undefined);
  checkBound(className, "memory", memoryBytes, cls.max_memory_bytes, formatSize);
  const diskBytes = req.disk !== undefined ? parseSize(req.disk, "disk") : cls.disk_bytes;
  checkResourceLimit("disk", diskBytes, "disk", req.disk === undefined ? fromClass : undefined);
  checkBound(className, "disk", diskBytes, cls.max_disk_bytes, formatSize);
  checkResourceLimit("pids", cls.pids, "pids", fromClass);

  const runtime = req.runtime ?? (cls.runtime as RuntimeName | null) ?? defaultRuntime;
  if (!info.runtimes.includes(runtime)) {
    const supported = info.runtimes.length > 0 ? info.runtimes.join(", ") : "none";
    throw new WarrenError(
      "RUNTIME_UNSUPPORTED",
      `runtime "${runtime}" is not available on this host (supported: ${supported}); pick one with --runtime`,
      { runtime, supported: info.runtimes },
    );
  }
  return {
    name,
    className,
    image: req.image ?? DEFAULT_IMAGE,
    runtime,
    resources: { cpus, memoryBytes, diskBytes, pids: cls.pids },
    egress: egressFromColumn(cls.egress),
    ...(req.project !== undefined ? { project: normalizeProject(req.project) } : {}),
    user: req.user !== undefined ? checkEnvUser(req.user) : DEFAULT_ENV_USER,
  };
}

function checkBound(
  className: string,
  what: string,
  value: number,
  max: number,
  fmt: (n: number) => string,
): void {
  if (value <= max) return;
  throw new WarrenError(
    "OUT_OF_CLASS_BOUNDS",
    `${what} ${fmt(value)} exceeds the maximum of ${fmt(max)} for class "${className}"; ask for at most ${fmt(max)} or choose a larger class (\`warren class ls\`)`,
    { field: what, value, max, className },
  );
}

/**
 * For a reference naming the base image's repository with another tag or none
 * ("warren/debian", "warren/debian:latest"): the one tag there is.
 */
export function baseTagHint(image: string): string | undefined {
  const repo = (ref: string) => ref.replace(/:[^/:]*$/, "");
  if (image === DEFAULT_IMAGE || repo(image) !== repo(DEFAULT_IMAGE)) return undefined;
  return `did you mean --image ${DEFAULT_IMAGE}? The built-in base image's tag is :${DEFAULT_IMAGE.split(":")[1]}`;
}

export function imageMissing(image: string): WarrenError {
  const fix =
    image === DEFAULT_IMAGE
      ? "it is built by `warren up`; run that first"
      : (baseTagHint(image) ??
        "run `warren image import PATH` to add it, or `warren image ls` to see what is there");
  return new WarrenError("IMAGE_NOT_FOUND", `image "${image}" is not in the image store: ${fix}`, { image });
}

/** The fields that differ between two specs, for a NAME_CONFLICT message. */
export function specDifferences(existing: EnvSpec, wanted: EnvSpec): string[] {
  const diffs: string[] = [];
  const cmp = (field: string, a: unknown, b: unknown, fmt: (v: never) => string = String) => {
    if (a !== b) diffs.push(`${field} ${fmt(a as never)} (existing) vs ${fmt(b as never)} (requested)`);
  };
  cmp("class", existing.className, wanted.className);
  cmp("image", existing.image, wanted.image);
  cmp("runtime", existing.runtime, wanted.runtime);
  cmp("cpus", existing.resources.cpus, wanted.resources.cpus);
  cmp("memory", existing.resources.memoryBytes, wanted.resources.memoryBytes, formatSize);
  cmp("disk", existing.resources.diskBytes, wanted.resources.diskBytes, formatSize);
  cmp("pids", existing.resources.pids, wanted.resources.pids);
  const egress = (s: EnvSpec) => (s.egress ? formatEgress(s.egress) : "all");
  cmp("egress", egress(existing), egress(wanted));
  cmp("project", existing.project ?? "none", wanted.project ?? "none");
  cmp("user", existing.user ?? DEFAULT_ENV_USER, wanted.user ?? DEFAULT_ENV_USER);
  return diffs;
}

/**
 * The way out of a NAME_CONFLICT: when only the limits `warren set` changes live differ, that
 * command with the requested values; otherwise another name, or removing the environment.
 */
export function conflictFix(name: string, existing: EnvSpec, wanted: EnvSpec): string {
  const e = existing.resources;
  const w = wanted.resources;
  const settable = { ...e, cpus: w.cpus, memoryBytes: w.memoryBytes, pids: w.pids };
  if (specDifferences({ ...existing, resources: settable }, wanted).length > 0) {
    return `pick another --name, or remove it first with \`warren rm ${name}\``;
  }
  const mem = (b: number) => (b % 1024 ** 3 === 0 ? `${b / 1024 ** 3}g` : `${Math.ceil(b / 1024 ** 2)}m`);
  const flags = [
    e.cpus !== w.cpus ? `--cpus ${w.cpus}` : "",
    e.memoryBytes !== w.memoryBytes ? `--memory ${mem(w.memoryBytes)}` : "",
    e.pids !== w.pids ? `--pids ${w.pids}` : "",
  ].filter(Boolean);
  return `change it in place with \`warren set ${name} ${flags.join(" ")}\`, or pick another --name`;
}
