// Pressure stall information: the share of recent time some task in the group waited for CPU,
// memory or IO. Warren reports avg10 because users feel stalls over seconds, not minutes.
import path from "node:path";
import type { PsiAvg10 } from "./types.ts";

export interface PsiLine {
  avg10: number;
  avg60: number;
  avg300: number;
  /** Total stall time, microseconds. */
  total: number;
}

export interface PsiFile {
  some: PsiLine | null;
  full: PsiLine | null;
}

/** Parses a pressure file: "some avg10=0.00 avg60=0.00 avg300=0.00 total=0" and a "full" line. */
export function parsePsi(text: string): PsiFile {
  const out: PsiFile = { some: null, full: null };
  for (const raw of text.split("\n")) {
    const [kind, ...fields] = raw.trim().split(/\s+/);
    if (kind !== "some" && kind !== "full") continue;
    const values = new Map(fields.map((f) => f.split("=") as [string, string]));
    const num = (k: string) => {
      const v = Number(values.get(k));
      if (!Number.isFinite(v)) throw new Error(`malformed pressure line ${JSON.stringify(raw)}`);
      return v;
    };
    out[kind] = { avg10: num("avg10"), avg60: num("avg60"), avg300: num("avg300"), total: num("total") };
  }
  return out;
}

/**
 * "some" avg10 of cpu, memory and io pressure in `dir`. A missing or unreadable file gives null:
 * PSI can be disabled at boot (psi=0), and a stopped environment has no group.
 */
export async function readPsiAvg10(
  dir: string,
  read: (file: string) => Promise<string | null>,
): Promise<PsiAvg10> {
  const one = async (res: string): Promise<number | null> => {
    try {
      const text = await read(path.join(dir, `${res}.pressure`));
      return text === null ? null : (parsePsi(text).some?.avg10 ?? null);
    } catch {
      return null;
    }
  };
  const [cpu, memory, io] = await Promise.all([one("cpu"), one("memory"), one("io")]);
  return { cpu, memory, io };
}

/**
 * "full" avg10 of memory pressure in `dir`: the share of the last 10 s in which every task of the
 * group was stalled on memory at once (reclaim, refaults), which is what thrashing looks like.
 * Null when the file is missing, unreadable or has no "full" line.
 */
export async function readMemoryFullAvg10(
  dir: string,
  read: (file: string) => Promise<string | null>,
): Promise<number | null> {
  try {
    const text = await read(path.join(dir, "memory.pressure"));
    return text === null ? null : (parsePsi(text).full?.avg10 ?? null);
  } catch {
    return null;
  }
}
