// Turns a CreateEnvRequest into a complete spec, checking it against its class and the runner.
// Everything here only reads, so a rejected request leaves nothing behind.
import {
  type CreateEnvRequest,
  DEFAULT_CLASS,
  DEFAULT_IMAGE,
  type EnvSpec,
  formatEgress,
  formatSize,
  normalizeProject,
  parseSize,
  type RunnerInfo,
  type RuntimeName,
  WarrenError,
} from "@warren/protocol";
import type { ClassRow } from "../store/queries/classes.ts";
import { egressFromColumn } from "../store/queries/egress.ts";

export interface SpecInputs {
  name: string;
  req: CreateEnvRequest;
  cls: ClassRow | undefined;
  info: RunnerInfo;
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
  const cpus = req.cpus ?? cls.cpus;
  if (!(cpus > 0)) {
    throw new WarrenError("INVALID_ARGUMENT", `invalid cpus ${cpus}: must be greater than zero`, {
      field: "cpus",
    });
  }
  checkBound(className, "cpus", cpus, cls.max_cpus, String);
  const memoryBytes = req.memory !== undefined ? parseSize(req.memory, "memory") : cls.memory_bytes;
  checkBound(className, "memory", memoryBytes, cls.max_memory_bytes, formatSize);
  const diskBytes = req.disk !== undefined ? parseSize(req.disk, "disk") : cls.disk_bytes;
  checkBound(className, "disk", diskBytes, cls.max_disk_bytes, formatSize);

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

export function imageMissing(image: string): WarrenError {
  const fix =
    image === DEFAULT_IMAGE
      ? "it is built by `warren up`; run that first"
      : "run `warren image import PATH` to add it, or `warren image ls` to see what is there";
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
  return diffs;
}
