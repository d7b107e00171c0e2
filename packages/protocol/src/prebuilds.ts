// Prebuilds: the part of a repository environment's setup that can be done ahead of time (clone,
// image build, Features, onCreateCommand and updateContentCommand), kept as a disk template per
// (organisation, repository, branch, devcontainer configuration). `warren up --repo` of a
// repository with a ready prebuild starts from a copy of it. JSON shapes, stable across versions.

export const PREBUILD_STATES = ["pending", "building", "ready", "failed"] as const;
export type PrebuildState = (typeof PREBUILD_STATES)[number];

export interface Prebuild {
  id: string;
  /** The repository, normalized (project.ts): host/owner/name. */
  repo: string;
  /** The URL it is cloned from. */
  url: string;
  /** The branch; "" for the remote's default. */
  branch: string;
  state: PrebuildState;
  /** Why the last run failed. */
  message?: string;
  /** The commit the ready template holds. */
  commit?: string;
  /** sha256 of the devcontainer configuration (devcontainer.json, and its Dockerfile) it was built from. */
  configDigest?: string;
  /** The image environments made from it run. */
  image?: string;
  /** A new prebuild this often (seconds), when scheduled. */
  everySeconds?: number;
  nextRunAt?: string;
  /** When the ready template was made. */
  builtAt?: string;
  createdAt: string;
  updatedAt: string;
}

export interface CreatePrebuildRequest {
  /** An https or ssh git URL. */
  repo: string;
  branch?: string;
  /** A duration (6h, 1d): run again this often. */
  every?: string;
  devcontainerPath?: string;
}

/** POST /prebuilds/webhook: a push happened; prebuild that repository's branch again. */
export interface PrebuildWebhookRequest {
  repo: string;
  branch?: string;
}

export interface PrebuildClient {
  /** Starts a prebuild (creates or re-runs the repository's and branch's). */
  createPrebuild(req: CreatePrebuildRequest): Promise<Prebuild>;
  listPrebuilds(): Promise<Prebuild[]>;
  /** By id, or by repository URL (with `branch`). */
  removePrebuild(idOrRepo: string, branch?: string): Promise<void>;
}

interface HttpLike {
  json<T>(method: string, path: string, body?: unknown): Promise<T>;
}

export function prebuildMethods(http: HttpLike): PrebuildClient {
  return {
    createPrebuild: (req) => http.json("POST", "/prebuilds", req),
    listPrebuilds: async () => (await http.json<{ items: Prebuild[] }>("GET", "/prebuilds")).items,
    async removePrebuild(idOrRepo, branch) {
      const q = new URLSearchParams({ repo: idOrRepo, ...(branch !== undefined ? { branch } : {}) });
      await http.json("DELETE", `/prebuilds?${q}`);
    },
  };
}
