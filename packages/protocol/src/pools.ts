// Warm pools: per (organisation, image, class), environments kept created and running but
// unclaimed, so a plain `warren up` of that image and class takes one over in milliseconds.
// Admins configure them; members never see a pool's environments until one becomes theirs.
// JSON shapes, stable across versions.

export interface WarmPool {
  id: string;
  image: string;
  className: string;
  /** Ready members kept at least (before the schedule and the claim rate raise it). */
  min: number;
  /** Never more members than this. */
  max: number;
  /** UTC windows raising the minimum, e.g. "mon-fri 08:00-18:00=5"; "" for none. */
  schedule: string;
  /** The size the controller aims for now (minimum, schedule, recent claims, maximum). */
  target: number;
  /** Members running and ready to be claimed. */
  ready: number;
  /** Members being made. */
  starting: number;
  /** Claims in the last 5 minutes, and since the pool was made. */
  recentClaims: number;
  claimsTotal: number;
  /** Member creations that failed in a row, the time before which none is tried, and why. */
  failures: number;
  retryAt?: string;
  lastError?: string;
  createdAt: string;
  updatedAt: string;
}

export interface SetPoolRequest {
  image: string;
  /** Default: the default class. */
  className?: string;
  min: number;
  max: number;
  /** "mon-fri 08:00-18:00=5, sat 10:00-14:00=1" (UTC); "" or absent: none. */
  schedule?: string;
}

export interface PoolClient {
  /** Creates or replaces the pool of (image, class) (admins). */
  setPool(req: SetPoolRequest): Promise<WarmPool>;
  listPools(): Promise<WarmPool[]>;
  /** Removes the pool; its unclaimed members are removed. False: there was none. */
  removePool(image: string, className?: string): Promise<boolean>;
}

interface HttpLike {
  json<T>(method: string, path: string, body?: unknown): Promise<T>;
}

export function poolMethods(http: HttpLike): PoolClient {
  return {
    setPool: (req) => http.json("POST", "/pools", req),
    listPools: async () => (await http.json<{ items: WarmPool[] }>("GET", "/pools")).items,
    async removePool(image, className) {
      const q = new URLSearchParams({ image, ...(className !== undefined ? { class: className } : {}) });
      return (await http.json<{ removed: boolean }>("DELETE", `/pools?${q}`)).removed;
    },
  };
}
