// The hard disk floor, as a pure decision. Disks are overcommitted (sparse images promised
// several times over the free space), so the host could fill while environments write. Well
// before it does, the guard freezes the environment that wrote most since the last sample: its
// processes stop where they are (nothing is killed, no write is torn), the others keep their
// room, and an event in its log says why. Once free space is back above the soft floor (where
// the runner already takes no new environments), every environment the guard froze resumes.

export interface DiskGuardEnv {
  id: string;
  /** Bytes its disk image occupies on the host now (allocated blocks of the sparse file). */
  usedBytes: number;
  /** The same at the previous sample; undefined for an environment first seen now. */
  previousUsedBytes?: number;
  /** Frozen by this guard (not by anyone else). */
  frozenByGuard: boolean;
}

export interface DiskGuardInput {
  freeBytes: number;
  /** Below this, freeze the largest writer (one per sample, until free space stops falling). */
  hardFloorBytes: number;
  /** At or above this, resume what the guard froze (the soft floor). */
  resumeBytes: number;
  envs: DiskGuardEnv[];
}

export type DiskGuardAction =
  | { kind: "freeze"; id: string; wroteBytes: number }
  | { kind: "thaw"; id: string };

/** What to do now. Pure: every case is a table row in the test. */
export function planDiskGuard(i: DiskGuardInput): DiskGuardAction[] {
  if (i.freeBytes >= i.resumeBytes) {
    return i.envs.filter((e) => e.frozenByGuard).map((e) => ({ kind: "thaw", id: e.id }));
  }
  if (i.freeBytes >= i.hardFloorBytes) return [];
  // Between samples a frozen environment writes nothing; among the others, the one whose disk
  // grew most is filling the host. None grew: nothing to blame, so nothing is frozen.
  let worst: { id: string; wroteBytes: number } | undefined;
  for (const e of i.envs) {
    if (e.frozenByGuard || e.previousUsedBytes === undefined) continue;
    const wrote = e.usedBytes - e.previousUsedBytes;
    if (wrote > 0 && (!worst || wrote > worst.wroteBytes)) worst = { id: e.id, wroteBytes: wrote };
  }
  return worst ? [{ kind: "freeze", ...worst }] : [];
}

/** The hard floor's minimum and share of the filesystem: whichever is larger applies. */
export const HARD_FLOOR_MIN_BYTES = 1024 ** 3;
export const HARD_FLOOR_FRACTION = 0.01;

/** max(1 GiB, 1 % of the filesystem), or the knob; never above the soft floor. */
export function hardFloorBytes(o: { knob?: number; totalBytes: number; softFloorBytes: number }): number {
  const floor =
    o.knob ?? Math.max(HARD_FLOOR_MIN_BYTES, Math.ceil(Math.max(0, o.totalBytes) * HARD_FLOOR_FRACTION));
  return Math.min(floor, o.softFloorBytes);
}
