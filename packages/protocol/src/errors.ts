// One catalog of error codes. HTTP status is attached here and used only at the edge (http/ and the client).
export const ERROR_CATALOG = {
  INVALID_ARGUMENT: { status: 400, summary: "A request field is malformed or out of range." },
  INVALID_SIZE: { status: 400, summary: "A size string could not be parsed (use 512m, 2g, 512Mi or 2Gi)." },
  OUT_OF_CLASS_BOUNDS: { status: 400, summary: "A resource override is outside the class's bounds." },
  RUNTIME_UNSUPPORTED: {
    status: 400,
    summary: "The requested runtime is unknown or not installed on the runner.",
  },
  ENV_NOT_FOUND: { status: 404, summary: "No environment has that name or id." },
  CLASS_NOT_FOUND: { status: 404, summary: "No class has that name." },
  IMAGE_NOT_FOUND: { status: 404, summary: "The image is not in the runner's image store." },
  NAME_CONFLICT: { status: 409, summary: "An environment with that name exists with a different spec." },
  CLASS_EXISTS: { status: 409, summary: "A class with that name already exists." },
  CLASS_IN_USE: { status: 409, summary: "The class is used by environments." },
  CLASS_BUILTIN: { status: 409, summary: "The class is built in; built-in classes cannot be removed." },
  ENV_NOT_RUNNING: { status: 409, summary: "The environment must be running for this operation." },
  ENV_RUNNING: { status: 409, summary: "The environment is running; stop it first, or force the operation." },
  SECRET_DELIVERY_FAILED: {
    status: 422,
    summary: "A secret could not be delivered into the environment, so it was not started.",
  },
  IMAGE_CORRUPT: { status: 422, summary: "The image is malformed or a digest does not match." },
  IMAGE_TOO_LARGE: { status: 413, summary: "An image layer expands past the runner's size cap." },
  IMAGE_IN_USE: { status: 409, summary: "The image is used by environments on the runner." },
  REGISTRY_REFUSED: {
    status: 403,
    summary: "The registry (or its token or redirect host) resolves to an address the runner refuses.",
  },
  REGISTRY_AUTH_FAILED: { status: 403, summary: "The registry refused the credentials, or needs a login." },
  REGISTRY_UNAVAILABLE: { status: 502, summary: "The registry could not be reached or answered badly." },
  ENV_FAILED: { status: 422, summary: "The environment failed to reach the requested state." },
  INSUFFICIENT_DISK: { status: 507, summary: "The host does not have room for the requested disk." },
  CAPACITY_EXHAUSTED: { status: 507, summary: "Every environment slot of the runner's id range is taken." },
  UNSCHEDULABLE: {
    status: 503,
    summary: "No runner of the organisation can take the environment; the error says why for each.",
  },
  UNAUTHENTICATED: { status: 401, summary: "The caller is not allowed to use this API." },
  TIMEOUT: { status: 504, summary: "The operation did not finish in time." },
  DAEMON_UNAVAILABLE: { status: 503, summary: "The Warren daemon is not reachable." },
  RUNNER_UNAVAILABLE: {
    status: 503,
    summary: "No runner is connected to the control plane, or it went away during the call.",
  },
  IDEMPOTENCY_CONFLICT: {
    status: 409,
    summary: "A request with this Idempotency-Key is still in flight; retry after it finishes.",
  },
  IDEMPOTENCY_MISMATCH: {
    status: 422,
    summary: "This Idempotency-Key was used with a different request; use a new key.",
  },
  SECRET_SHOWN_ONCE: {
    status: 409,
    summary:
      "A request with this Idempotency-Key already succeeded, and its answer held a secret, which is shown only once and not kept; details.response is the answer without it.",
  },
  RATE_LIMITED: { status: 429, summary: "Too many requests; retry after the Retry-After seconds." },
  PAYLOAD_TOO_LARGE: { status: 413, summary: "The request body is larger than the server accepts." },
  WATCH_EXPIRED: {
    status: 410,
    summary:
      "The resource version is older than the retained change history; list again and watch from there.",
  },
  FORBIDDEN: {
    status: 403,
    summary: "The caller is known but its role or token kind does not allow this operation.",
  },
  NOT_FOUND: {
    status: 404,
    summary: "No token, organisation or member has that id or name (in the caller's organisation).",
  },
  QUOTA_EXCEEDED: {
    status: 403,
    summary: "The request would take the organisation or the user past a quota an admin set.",
  },
  VERSION_MISMATCH: {
    status: 426,
    summary:
      "The runner and the control plane speak different runner protocol versions; upgrade the older one.",
  },
  DIAL_FAILED: {
    status: 502,
    summary: "Nothing answered on that port inside the environment (details.errno says why).",
  },
  SSH_KEY_EXISTS: { status: 409, summary: "The caller has already registered that SSH public key." },
  PUBLIC_PORTS_DENIED: {
    status: 403,
    summary:
      "The organisation does not allow public ports (an admin allows them: warren quota set --public-ports allow).",
  },
  POLICY_DENIED: {
    status: 403,
    summary:
      "A devcontainer.json, image or Feature asks for something the organisation's policy refuses (privileged, host mounts, capAdd, securityOpt, runArgs); remove it or ask an admin.",
  },
  CLONE_FAILED: {
    status: 422,
    summary:
      "git could not clone the repository inside the environment (credentials, host key, URL or branch); the message says which and how to fix it.",
  },
  BUILD_FAILED: {
    status: 422,
    summary:
      "An image build (Dockerfile or Features) failed inside the environment's sandbox; the message ends with the build's last lines.",
  },
  RUNNER_NOT_FOUND: {
    status: 404,
    summary: "No runner of the caller's organisation has that name (`warren fleet ls` lists them).",
  },
  PREBUILD_NOT_FOUND: {
    status: 404,
    summary: "No prebuild (or disk template on the runner) has that repository, branch or key.",
  },
  INTERNAL: { status: 500, summary: "A bug in Warren." },
} as const satisfies Record<string, { status: number; summary: string }>;

export type ErrorCode = keyof typeof ERROR_CATALOG;

export interface ErrorBody {
  code: ErrorCode;
  message: string;
  details?: Record<string, unknown>;
}

/** A typed, user-facing error. `message` says what was wrong and how to fix it. */
export class WarrenError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;
  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = "WarrenError";
    this.code = code;
    this.details = details;
  }
  get status(): number {
    return ERROR_CATALOG[this.code].status;
  }
  /** True for errors caused by the caller's input or the host's state, not by a bug. */
  get isUserError(): boolean {
    return this.code !== "INTERNAL";
  }
  toBody(): ErrorBody {
    return this.details
      ? { code: this.code, message: this.message, details: this.details }
      : { code: this.code, message: this.message };
  }
  static fromBody(body: ErrorBody): WarrenError {
    const code = body.code in ERROR_CATALOG ? body.code : "INTERNAL";
    return new WarrenError(code, body.message, body.details);
  }
}

/** Wraps any error with a short context prefix: `start env ab12: mount rootfs: EBUSY`. */
export function wrap(context: string, err: unknown): Error {
  if (err instanceof WarrenError) return new WarrenError(err.code, `${context}: ${err.message}`, err.details);
  const e = err instanceof Error ? err : new Error(String(err));
  const out = new Error(`${context}: ${e.message}`, { cause: e });
  return out;
}

export function isWarrenError(err: unknown, code?: ErrorCode): err is WarrenError {
  return err instanceof WarrenError && (code === undefined || err.code === code);
}
