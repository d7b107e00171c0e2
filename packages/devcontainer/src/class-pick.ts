// hostRequirements (cpus, memory, storage) pick the smallest class that fits. Warren has no GPUs:
// a required GPU fits nothing.
import { type ClassSpec, formatSize, WarrenError } from "@warren/protocol";
import { parseBytes } from "./merge.ts";
import type { HostRequirements } from "./types.ts";

function describe(c: ClassSpec): string {
  return `'${c.name}' (${c.cpus} cpus, ${formatSize(c.memoryBytes)} memory, ${formatSize(c.diskBytes)} disk)`;
}

function describeReq(cpus: number, memory: number, storage: number): string {
  const parts: string[] = [];
  if (cpus) parts.push(`${cpus} cpus`);
  if (memory) parts.push(`${formatSize(memory)} memory`);
  if (storage) parts.push(`${formatSize(storage)} storage`);
  return parts.join(", ");
}

const bySize = (a: ClassSpec, b: ClassSpec) =>
  a.cpus - b.cpus ||
  a.memoryBytes - b.memoryBytes ||
  a.diskBytes - b.diskBytes ||
  a.name.localeCompare(b.name);

/**
 * The smallest class whose cpus, memory and disk meet hostRequirements; undefined when there are
 * no requirements (the caller keeps its default class). Throws naming the largest class when none fits.
 */
export function pickClassFor(req: HostRequirements | undefined, classes: ClassSpec[]): string | undefined {
  if (!req) return undefined;
  if (req.gpu === true || (typeof req.gpu === "object" && req.gpu !== null)) {
    throw new WarrenError(
      "OUT_OF_CLASS_BOUNDS",
      'hostRequirements.gpu asks for a GPU, and Warren environments have none; remove it or make it "optional"',
      { property: "hostRequirements.gpu" },
    );
  }
  const cpus = typeof req.cpus === "number" ? req.cpus : 0;
  const memory = parseBytes(req.memory);
  const storage = parseBytes(req.storage);
  if (!cpus && !memory && !storage) return undefined;
  const sorted = [...classes].sort(bySize);
  const fit = sorted.find((c) => c.cpus >= cpus && c.memoryBytes >= memory && c.diskBytes >= storage);
  if (fit) return fit.name;
  const largest = sorted[sorted.length - 1];
  throw new WarrenError(
    "OUT_OF_CLASS_BOUNDS",
    `hostRequirements (${describeReq(cpus, memory, storage)}) fit no class; the largest is ${
      largest ? describe(largest) : "none (no classes exist)"
    }: lower hostRequirements in devcontainer.json, or ask an admin to create a larger class (warren class create)`,
    { cpus, memoryBytes: memory, storageBytes: storage, largest: largest?.name },
  );
}
