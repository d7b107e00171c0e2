// The hub's calls that are not about one environment (images, host facts, DNS counters): sent to a
// runner chosen by organisation (any connected runner of it: image lists, the org's host facts) or
// by id (the runner a placement chose: its image presence and pulls). A runner another replica
// holds answers info and hasImage from what it last reported; the rest need it live.
import type { ImageInfo, ProgressFn, RunnerApi } from "@warren/protocol";
import type { RemoteRunner } from "./remote-runner.ts";

export type OrgLevelCalls = Pick<
  RunnerApi,
  | "info"
  | "hasImage"
  | "listImages"
  | "importImage"
  | "ensureBaseImage"
  | "pullImage"
  | "removeImage"
  | "pruneImages"
  | "dnsStats"
  | "imageLabels"
  | "removeTemplate"
>;

export interface CallTarget {
  /** The runner if this replica holds it live; undefined otherwise. */
  local(): RemoteRunner | undefined;
  /** What a runner held by another replica last reported; undefined when none holds one. */
  reported(): Promise<{ info: Awaited<ReturnType<RunnerApi["info"]>>; imageRefs: string[] } | undefined>;
  /** Why no runner can serve the call live (RUNNER_UNAVAILABLE, saying where it is). */
  unavailable(): Promise<Error>;
  /** Its image store changed: the heartbeat re-reads the image list. */
  imagesChanged(r: RemoteRunner): void;
}

export function orgLevelCalls(t: CallTarget): OrgLevelCalls {
  const pick = async (): Promise<RemoteRunner> => {
    const r = t.local();
    if (!r) throw await t.unavailable();
    return r;
  };
  /** A call that changes the runner's image store. */
  const changing = async <T>(fn: (r: RemoteRunner) => Promise<T>): Promise<T> => {
    const r = await pick();
    try {
      return await fn(r);
    } finally {
      t.imagesChanged(r);
    }
  };
  return {
    info: async () => {
      const r = t.local();
      if (r) return r.info();
      const other = await t.reported();
      if (other) return other.info;
      throw await t.unavailable();
    },
    hasImage: async (ref: string) => {
      const r = t.local();
      if (r) return r.hasImage(ref);
      const other = await t.reported();
      if (other) return other.imageRefs.includes(ref);
      throw await t.unavailable();
    },
    listImages: async (): Promise<ImageInfo[]> => (await pick()).listImages(),
    importImage: (p: string, ref: string | undefined, progress: ProgressFn) =>
      changing((r) => r.importImage(p, ref, progress)),
    ensureBaseImage: (opts: { mirror?: string }, progress: ProgressFn) =>
      changing((r) => r.ensureBaseImage(opts, progress)),
    pullImage: (ref: string, progress: ProgressFn, opts?: Parameters<RunnerApi["pullImage"]>[2]) =>
      changing((r) => r.pullImage(ref, progress, opts)),
    removeImage: (ref: string) => changing((r) => r.removeImage(ref)),
    pruneImages: (opts?: Parameters<RunnerApi["pruneImages"]>[0]) => changing((r) => r.pruneImages(opts)),
    dnsStats: async () => (await pick()).dnsStats(),
    imageLabels: async (ref: string) => (await pick()).imageLabels(ref),
    removeTemplate: async (key: string) => (await pick()).removeTemplate(key),
  };
}
