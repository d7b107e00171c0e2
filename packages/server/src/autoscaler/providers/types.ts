// The autoscaler's provider seam: how a pool gets and gives back hosts. Small on purpose (create,
// delete, status), every call idempotent, so a pass that crashed half-way is simply run again:
// - create(req) with a request id already seen returns that host's id and makes no second host;
// - delete(id) of a host already gone succeeds;
// - status(id) of a host never made or already deleted says "gone".
// Implementations: local.ts (`warren runner` processes on this host, for tests and demos) and
// hook.ts (an operator's executable: Terraform, a cloud CLI, a script). One contract suite
// (test/autoscaler-providers.test.ts) runs against each.

/** What a new host needs to join the pool as a runner. */
export interface HostRequest {
  /** Chosen by the autoscaler, stable across retries: the idempotency key. */
  requestId: string;
  pool: string;
  /** The runner's name in the fleet (`warren runner --name`). */
  name: string;
  labels: Record<string, string>;
  /** Where the runner dials in, and the certificate it pins. */
  server: { url: string; fingerprint: string };
  /** A runner token for this host alone; it expires at tokenExpiresAt unless the host joins. */
  token: string;
  tokenExpiresAt: string;
}

export type HostState = "pending" | "running" | "failed" | "gone";

export interface HostStatus {
  id: string;
  state: HostState;
  detail?: string;
}

export interface HostProvider {
  /** "local" or "hook", for logs and decisions. */
  readonly kind: string;
  create(req: HostRequest): Promise<{ id: string }>;
  delete(id: string): Promise<void>;
  status(id: string): Promise<HostStatus>;
}

export const HOST_STATES: readonly HostState[] = ["pending", "running", "failed", "gone"];

/** Request ids and host ids travel into file names and argv: keep them plain. */
export const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

export function checkSafeId(what: string, id: string): void {
  if (!SAFE_ID.test(id)) {
    throw new Error(
      `${what} ${JSON.stringify(id)} is not a plain id (letters, digits, . _ : -, at most 128)`,
    );
  }
}
