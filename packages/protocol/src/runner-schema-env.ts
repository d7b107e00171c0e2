// The runner's reports about environments, images, DNS and ports as they cross the runner wire
// (runner-schema.ts holds the frames and calls that carry them): bounded like every wire schema.
import { Type } from "@sinclair/typebox";
import { Count, Id, IdRange, lit, Message, Psi, Ref, ResourcesSchema, Time } from "./runner-schema-base.ts";
import { WIRE_LIMITS as LIMITS } from "./runner-wire.ts";

export const EnvCpuGovernorSchema = Type.Object({
  governed: Type.Boolean(),
  limitCores: Type.Union([Count, Type.Null()]),
  baseCores: Count,
  burstCores: Count,
  granted: Type.Boolean(),
  burstGrantsTotal: Count,
  throttledPeriodsTotal: Count,
  throttledSecondsTotal: Count,
  explanation: Type.Optional(Message),
});

export const EnvObservedSchema = Type.Object({
  id: Id,
  state: lit(["running", "stopped", "absent"]),
  pid: Type.Optional(Type.Integer({ minimum: 0 })),
  startedAt: Type.Optional(Time),
  uidRange: Type.Optional(IdRange),
  cgroupPaths: Type.Optional(Type.Record(Type.String({ maxLength: LIMITS.id }), Ref, { maxProperties: 32 })),
  psi: Type.Optional(Psi),
  runtime: Type.Optional(Type.String({ maxLength: LIMITS.id })),
  reason: Type.Optional(Message),
  resources: Type.Optional(ResourcesSchema),
  ip: Type.Optional(Type.String({ maxLength: 64 })),
  workspaceDirty: Type.Optional(Type.Boolean()),
  oom: Type.Optional(
    Type.Object({ kills: Count, last: Type.Optional(Type.Object({ message: Message, at: Time })) }),
  ),
  cpuGovernor: Type.Optional(EnvCpuGovernorSchema),
});

export const ImageInfoSchema = Type.Object({
  ref: Ref,
  digest: Ref,
  layers: Type.Array(Ref, { maxItems: LIMITS.small }),
  sizeBytes: Count,
  createdAt: Time,
  lastUsedAt: Type.Optional(Time),
});

export const BuiltImageSchema = Type.Composite([ImageInfoSchema, Type.Object({ cached: Type.Boolean() })]);

export const EnvStatsSchema = Type.Object({
  id: Id,
  name: Type.Optional(Type.String({ maxLength: LIMITS.id })),
  cpuCores: Count,
  memoryWorkingSetBytes: Count,
  memoryLimitBytes: Count,
  pids: Count,
  pidsLimit: Count,
  diskUsedBytes: Count,
  diskQuotaBytes: Count,
  psi: Psi,
  oomKills: Count,
  at: Time,
  cpuSecondsTotal: Type.Optional(Count),
  memoryMaxBytes: Type.Optional(Count),
  networkReceiveBytes: Type.Optional(Count),
  networkTransmitBytes: Type.Optional(Count),
  cpuGovernor: Type.Optional(EnvCpuGovernorSchema),
});

export const DnsStatsSchema = Type.Object({
  hits: Count,
  misses: Count,
  negativeHits: Count,
  upstreamQueries: Count,
  upstreamErrors: Count,
  tcpRetries: Count,
  cacheEntries: Count,
  upstreamLatencyMs: Type.Object({ p50: Count, p99: Count, mean: Count }),
  upstreams: Type.Array(Ref, { maxItems: LIMITS.small }),
});

export const ListeningPortSchema = Type.Object({
  port: Type.Integer({ minimum: 1, maximum: 65_535 }),
  address: Type.String({ minLength: 1, maxLength: 64 }),
  family: Type.Union([Type.Literal(4), Type.Literal(6)]),
  process: Type.Optional(Type.String({ maxLength: 64 })),
});

export const ProgressEventSchema = Type.Object({
  phase: Type.String({ maxLength: LIMITS.id }),
  message: Message,
  current: Type.Optional(Count),
  total: Type.Optional(Count),
});
