// TypeBox response schemas mirroring the wire types in protocol env.ts/runner.ts/api.ts. They document
// the API (openapi.ts) and tests check real responses against them; they never shape the output,
// because build() serializes with plain JSON.stringify (see there). The `_Checks` type below
// fails to compile if a schema and its protocol type drift apart.
import { type Static, type TSchema, Type } from "@sinclair/typebox";
import {
  ACTIVITY_KINDS,
  type ClassSpec as ClassSpecT,
  type DnsStats as DnsStatsT,
  ENV_STATES,
  type Environment as EnvironmentT,
  type EnvStats as EnvStatsT,
  ERROR_CATALOG,
  type ErrorBody as ErrorBodyT,
  type ErrorCode as ErrorCodeT,
  type ImageInfo as ImageInfoT,
  LIFECYCLE_HOOKS,
  type ProgressEvent as ProgressEventT,
  type RegistryLogin as RegistryLoginT,
  RUNTIMES,
  type RunnerInfo as RunnerInfoT,
  SETUP_PHASES,
} from "@warren/protocol";

const lit = <const T extends string>(values: readonly T[]) => Type.Union(values.map((v) => Type.Literal(v)));
const Time = Type.String({ description: "ISO 8601 time" });

export const ErrorCode = Type.Union(
  (Object.keys(ERROR_CATALOG) as ErrorCodeT[]).map((c) => Type.Literal(c)),
  {
    description: `Every error code, its HTTP status and meaning:\n\n${Object.entries(ERROR_CATALOG)
      .map(([code, e]) => `- \`${code}\` (${e.status}): ${e.summary}`)
      .join("\n")}`,
    "x-error-codes": Object.fromEntries(Object.entries(ERROR_CATALOG).map(([c, e]) => [c, { ...e }])),
  },
);
export const ErrorBody = Type.Object({
  code: ErrorCode,
  message: Type.String({ description: "What was wrong and how to fix it." }),
  details: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
});

export const RuntimeName = lit(RUNTIMES);
export const Resources = Type.Object({
  cpus: Type.Number(),
  memoryBytes: Type.Number(),
  diskBytes: Type.Number(),
  pids: Type.Number(),
});
export const EgressPolicy = Type.Union([
  Type.Object({ mode: Type.Literal("all") }),
  Type.Object({ mode: Type.Literal("none") }),
  Type.Object({ mode: Type.Literal("allow"), cidrs: Type.Array(Type.String()) }),
]);
export const Condition = Type.Object({
  type: Type.String(),
  status: lit(["True", "False"]),
  reason: Type.String(),
  message: Type.String(),
  at: Time,
});
const NumOrNull = Type.Union([Type.Number(), Type.Null()]);
export const Psi = Type.Object({ cpu: NumOrNull, memory: NumOrNull, io: NumOrNull });
const IdRange = Type.Object({ start: Type.Number(), size: Type.Number() });
export const EnvCpuGovernor = Type.Object({
  governed: Type.Boolean({
    description: "false: the runner's governor is off and the class cpus are the cap",
  }),
  limitCores: Type.Union([Type.Number(), Type.Null()], { description: "The CFS cap now, in cores" }),
  baseCores: Type.Number({ description: "The class cpus: the cap without a grant, and the share" }),
  burstCores: Type.Number({ description: "The cap while a burst is granted" }),
  granted: Type.Boolean(),
  burstGrantsTotal: Type.Number(),
  throttledPeriodsTotal: Type.Number(),
  throttledSecondsTotal: Type.Number(),
  explanation: Type.Optional(Type.String()),
});
export const EnvObserved = Type.Object({
  id: Type.String(),
  state: lit(["running", "stopped", "absent"]),
  pid: Type.Optional(Type.Number()),
  startedAt: Type.Optional(Time),
  uidRange: Type.Optional(IdRange),
  cgroupPaths: Type.Optional(Type.Record(Type.String(), Type.String())),
  psi: Type.Optional(Psi),
  runtime: Type.Optional(Type.String()),
  reason: Type.Optional(Type.String()),
  resources: Type.Optional(Resources),
  ip: Type.Optional(
    Type.String({ description: "IPv4 address on the runner's environment network, while running" }),
  ),
  workspaceDirty: Type.Optional(
    Type.Boolean({ description: "Its disk may have changed since its last clean stop" }),
  ),
  oom: Type.Optional(
    Type.Object(
      {
        kills: Type.Number({ description: "Processes killed at its memory limit, over every start" }),
        last: Type.Optional(Type.Object({ message: Type.String(), at: Time })),
      },
      { description: "OOM kills at its memory limit; absent before the first" },
    ),
  ),
  cpuGovernor: Type.Optional(EnvCpuGovernor),
});
export const EnvSpec = Type.Object({
  name: Type.String(),
  className: Type.String(),
  image: Type.String(),
  runtime: RuntimeName,
  resources: Resources,
  egress: Type.Optional(EgressPolicy),
  project: Type.Optional(Type.String({ description: "The repository URL, normalized (https://HOST/PATH)" })),
  user: Type.Optional(
    Type.String({ description: "Who exec and shell land as by default; owns the workspace folder" }),
  ),
});
export const EnvActivity = Type.Object({
  kind: lit(ACTIVITY_KINDS),
  at: Time,
  source: Type.String({ description: 'Who used it, e.g. "user:ID"' }),
});
export const EnvIdle = Type.Object({
  timeoutSeconds: Type.Union([Type.Integer(), Type.Null()], {
    description: "Its own idle timeout; null: never stopped for idleness",
  }),
  lastActivity: Type.Optional(EnvActivity),
  stopDeadline: Type.Optional(Time),
});
const HookRun = Type.Object({
  name: lit([...LIFECYCLE_HOOKS, "dotfiles"]),
  state: lit(["running", "done", "failed"]),
  exitCode: Type.Optional(Type.Integer()),
  startedAt: Type.Optional(Time),
  finishedAt: Type.Optional(Time),
});
export const EnvSetup = Type.Object(
  {
    source: Type.Object({
      url: Type.Optional(Type.String()),
      uploadId: Type.Optional(Type.String()),
      branch: Type.Optional(Type.String()),
      devcontainerPath: Type.Optional(Type.String()),
      knownHosts: Type.Optional(Type.Array(Type.String())),
      localWorkspaceFolder: Type.Optional(Type.String()),
    }),
    dir: Type.String({ description: "Folder under /workspaces" }),
    phase: lit(SETUP_PHASES),
    message: Type.Optional(Type.String()),
    image: Type.Optional(Type.String()),
    workspaceFolder: Type.String(),
    remoteUser: Type.Optional(Type.String()),
    configFile: Type.Optional(Type.String()),
    hooks: Type.Array(HookRun),
    settled: Type.Optional(Type.Boolean()),
  },
  { description: "Made from a repository (`warren up --repo`): its source, setup phase and lifecycle hooks" },
);
export const Environment = Type.Object({
  id: Type.String(),
  name: Type.String(),
  spec: EnvSpec,
  desired: lit(["running", "stopped", "deleted"]),
  state: lit(ENV_STATES),
  conditions: Type.Array(Condition),
  slot: Type.Integer({ minimum: 0 }),
  createdAt: Time,
  updatedAt: Time,
  observed: Type.Optional(EnvObserved),
  idle: Type.Optional(EnvIdle),
  setup: Type.Optional(EnvSetup),
  runner: Type.Optional(
    Type.Object({ id: Type.String(), name: Type.String() }, { description: "the runner it was placed on" }),
  ),
  placement: Type.Optional(Type.String({ description: "the scheduler's explanation of the placement" })),
});
export const ClassSpec = Type.Object({
  name: Type.String(),
  cpus: Type.Number(),
  memoryBytes: Type.Number(),
  diskBytes: Type.Number(),
  pids: Type.Number(),
  runtime: Type.Optional(RuntimeName),
  maxCpus: Type.Number(),
  maxMemoryBytes: Type.Number(),
  maxDiskBytes: Type.Number(),
  builtin: Type.Boolean(),
  egress: EgressPolicy,
  idleTimeoutSeconds: Type.Optional(
    Type.Union([Type.Integer(), Type.Null()], {
      description: "The longest its environments may go unused (seconds); null: no limit",
    }),
  ),
  requiredLabels: Type.Optional(
    Type.Record(Type.String(), Type.String(), {
      description: "Labels a runner must carry to take its environments ({}: any runner)",
    }),
  ),
  cpuOvercommit: Type.Optional(
    Type.Number({ description: "Sum of CPU limits over a runner's cores placement allows (1 to 64)" }),
  ),
  memoryOvercommit: Type.Optional(
    Type.Number({ description: "Sum of memory limits over a runner's memory placement allows (1 to 1.5)" }),
  ),
  diskOvercommit: Type.Optional(
    Type.Number({ description: "Sum of disk sizes over a runner's free disk placement allows (1 to 64)" }),
  ),
  ioLimits: Type.Optional(
    Type.Object(
      {
        readBps: Type.Optional(Type.Number({ description: "read bandwidth, bytes per second" })),
        writeBps: Type.Optional(Type.Number({ description: "write bandwidth, bytes per second" })),
        readIops: Type.Optional(Type.Number({ description: "read operations per second" })),
        writeIops: Type.Optional(Type.Number({ description: "write operations per second" })),
      },
      { description: "Disk I/O limits of its environments; a field left out is unlimited" },
    ),
  ),
  cpuBurst: Type.Optional(
    Type.Union([Type.Number(), Type.Null()], {
      description:
        "The CPU governor's burst for its environments, in cores (cpus to 64); null: the runner's default (WARREN_GOVERNOR_BURST_FACTOR × cpus)",
    }),
  ),
});
export const ImageInfo = Type.Object({
  ref: Type.String(),
  digest: Type.String(),
  layers: Type.Array(Type.String()),
  sizeBytes: Type.Number(),
  createdAt: Time,
  lastUsedAt: Type.Optional(Time),
});
export const RunnerInfo = Type.Object({
  id: Type.String(),
  hostname: Type.String(),
  runtimes: Type.Array(RuntimeName),
  cpus: Type.Number(),
  memoryBytes: Type.Number(),
  diskFreeBytes: Type.Number(),
  cgroupMode: lit(["v1", "v2", "hybrid"]),
  idRange: IdRange,
});
export const EnvStats = Type.Object({
  id: Type.String(),
  name: Type.Optional(Type.String()),
  cpuCores: Type.Number(),
  memoryWorkingSetBytes: Type.Number(),
  memoryLimitBytes: Type.Number(),
  pids: Type.Number(),
  pidsLimit: Type.Number(),
  diskUsedBytes: Type.Number(),
  diskQuotaBytes: Type.Number(),
  psi: Psi,
  oomKills: Type.Number(),
  at: Time,
  cpuSecondsTotal: Type.Optional(Type.Number()),
  memoryMaxBytes: Type.Optional(Type.Number()),
  networkReceiveBytes: Type.Optional(Type.Number()),
  networkTransmitBytes: Type.Optional(Type.Number()),
  cpuGovernor: Type.Optional(EnvCpuGovernor),
});
export const DnsStats = Type.Object({
  hits: Type.Number(),
  misses: Type.Number(),
  negativeHits: Type.Number(),
  upstreamQueries: Type.Number(),
  upstreamErrors: Type.Number(),
  tcpRetries: Type.Number(),
  cacheEntries: Type.Number(),
  upstreamLatencyMs: Type.Object({ p50: Type.Number(), p99: Type.Number(), mean: Type.Number() }),
  upstreams: Type.Array(Type.String()),
});
export const RegistryLogin = Type.Object({
  host: Type.String(),
  username: Type.String(),
  createdAt: Time,
  updatedAt: Time,
});
export const ProgressEvent = Type.Object({
  phase: Type.String(),
  message: Type.String(),
  current: Type.Optional(Type.Number()),
  total: Type.Optional(Type.Number()),
});
export const Health = Type.Object({ ok: Type.Literal(true), version: Type.String() });
export const Removed = Type.Object({ removed: Type.Array(Type.String()) });
export const Pruned = Type.Object({ removed: Type.Array(Type.String()), freedBytes: Type.Number() });
export const ImageStreamLine = Type.Union(
  [ProgressEvent, Type.Object({ done: ImageInfo }), Type.Object({ error: ErrorBody })],
  { description: "One NDJSON line: progress, then a final { done } or { error }." },
);

/** Named in the document's components.schemas; openapi.ts swaps each occurrence for a $ref. */
export const COMPONENTS: Record<string, TSchema> = {
  ErrorCode,
  ErrorBody,
  RuntimeName,
  Resources,
  EgressPolicy,
  Condition,
  Psi,
  EnvObserved,
  EnvSpec,
  EnvActivity,
  EnvIdle,
  Environment,
  ClassSpec,
  ImageInfo,
  RunnerInfo,
  EnvStats,
  DnsStats,
  RegistryLogin,
  ProgressEvent,
  ImageStreamLine,
};

export const items = <T extends TSchema>(t: T) => Type.Object({ items: Type.Array(t) });

/**
 * Error responses for a route, grouped by status from the catalog. Each names the codes the
 * route can answer with, so the document says which failures to expect where.
 */
export function errors(...codes: ErrorCodeT[]): Record<number, TSchema> {
  const byStatus = new Map<number, ErrorCodeT[]>();
  for (const c of [...codes, "INTERNAL" as const]) {
    const s = ERROR_CATALOG[c].status;
    byStatus.set(s, [...(byStatus.get(s) ?? []), c]);
  }
  const out: Record<string, TSchema> = Object.fromEntries(
    [...byStatus].map(([status, cs]) => [status, described(`Error: ${cs.join(", ")}`, ErrorBody, cs)]),
  );
  // Fastify's own client errors (malformed JSON 400, 413 too large, 415 content type) have no code of
  // their own: they answer INVALID_ARGUMENT with fastify's status.
  out["default"] = Type.Unsafe({
    description:
      `Any other error: ${ANY_ROUTE_ERRORS.join(", ")} from the checks every route runs (authentication, ` +
      "rate limits, body size, Idempotency-Key, request validation), at the code's status; fastify's own " +
      "client errors (e.g. 415 content type) answer INVALID_ARGUMENT with fastify's status",
    "x-any-route-codes": ANY_ROUTE_ERRORS,
    allOf: [ErrorBody],
  });
  return out;
}

/**
 * Codes any route can answer, raised by the hooks in front of every handler rather than by the
 * route itself; the response validator (http/response-validation.ts) accepts them on any route.
 */
export const ANY_ROUTE_ERRORS: ErrorCodeT[] = [
  "INVALID_ARGUMENT",
  "UNAUTHENTICATED",
  // A runner token on an /api/v1 route (http/auth.ts).
  "FORBIDDEN",
  "RATE_LIMITED",
  "PAYLOAD_TOO_LARGE",
  "IDEMPOTENCY_CONFLICT",
  "IDEMPOTENCY_MISMATCH",
  // Server mode: the organisation's runner is not connected (runners/hub.ts); any route that
  // reaches a runner can say so.
  "RUNNER_UNAVAILABLE",
  "INTERNAL",
];

/** Error responses a browser gets as an HTML page instead (the sign-in callback): both types documented. */
export function orHtml(responses: Record<string, TSchema>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(responses).map(([status, s]) => [
      status,
      {
        description: s["description"] as string,
        content: { "application/json": { schema: s }, "text/html": { schema: Type.String() } },
      },
    ]),
  );
}

function described(description: string, schema: TSchema, codes?: ErrorCodeT[]): TSchema {
  return Type.Unsafe({ description, ...(codes ? { "x-error-codes": codes } : {}), allOf: [schema] });
}

/** A 200 streamed as NDJSON (image import, pull, base): see http/ndjson.ts. */
export function ndjson(description: string) {
  return {
    200: { description, content: { "application/x-ndjson": { schema: ImageStreamLine } } },
  };
}

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Assert<T extends true> = T;
export type _Checks = [
  Assert<Same<Static<typeof Environment>, EnvironmentT>>,
  Assert<Same<Static<typeof ClassSpec>, ClassSpecT>>,
  Assert<Same<Static<typeof ImageInfo>, ImageInfoT>>,
  Assert<Same<Static<typeof RunnerInfo>, RunnerInfoT>>,
  Assert<Same<Static<typeof EnvStats>, EnvStatsT>>,
  Assert<Same<Static<typeof DnsStats>, DnsStatsT>>,
  Assert<Same<Static<typeof RegistryLogin>, RegistryLoginT>>,
  Assert<Same<Static<typeof ProgressEvent>, ProgressEventT>>,
  Assert<Same<Static<typeof ErrorBody>, ErrorBodyT>>,
];
