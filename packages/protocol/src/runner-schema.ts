// JSON Schemas (TypeBox) of everything that crosses the runner wire (runner-wire.ts): each frame's
// envelope, every call's arguments, every call's result and every event's data. Both ends check a
// frame against these before using it (runner-validate.ts), because either end may be hostile: a
// runner token is minted by any organisation's admin, and a runner must not trust what it is told
// either. Every string, array and number is bounded, so a peer cannot make the other end allocate
// or store more than one frame's worth (MAX_WIRE_FRAME).
//
// `sameShape` below fails to compile when a schema and its protocol type drift apart: adding a field
// to RunnerEnvSpec without adding it here is a type error, not a field the runner silently drops.
import { type Static, type TSchema, Type } from "@sinclair/typebox";
import { CPU_BURST_MAX } from "./cpu-burst.ts";
import type { DnsStats, EnvObserved, EnvStats, ImageInfo, Resources } from "./env.ts";
import { ENV_USER_RE } from "./env-user.ts";
import type { ErrorBody } from "./errors.ts";
import {
  type ExecRequest,
  type ListeningPort,
  MAX_LISTENING_PORTS,
  type ProgressEvent,
  RUNNER_LABEL_KEY_PATTERN,
  RUNNER_LABEL_VALUE_PATTERN,
  RUNNER_NAME_PATTERN,
  type RunnerEnvSpec,
  type RunnerInfo,
  type SavedTemplate,
  TEMPLATE_KEY_RE,
} from "./runner.ts";
import type { BuildImageRequest, BuiltImage, FeatureFetchRequest, FetchedFeature } from "./runner-build.ts";
import {
  BuildImageRequestSchema,
  EnvVarsSchema,
  FeatureFetchRequestSchema,
  FetchedFeatureSchema,
  ImageLabelsSchema,
  VolumesSchema,
} from "./runner-build-schema.ts";
import { Count, Id, IdRange, lit, Message, Ref, ResourcesSchema, Runtime } from "./runner-schema-base.ts";
import {
  BuiltImageSchema,
  DnsStatsSchema,
  EnvObservedSchema,
  EnvStatsSchema,
  ImageInfoSchema,
  ListeningPortSchema,
  ProgressEventSchema,
} from "./runner-schema-env.ts";
import { WIRE_LIMITS as LIMITS, type RunnerFrame, type ServerFrame, type WireMethod } from "./runner-wire.ts";
import type { SecretDelivery } from "./secrets.ts";

export { ResourcesSchema } from "./runner-schema-base.ts";
export {
  DnsStatsSchema,
  EnvObservedSchema,
  EnvStatsSchema,
  ImageInfoSchema,
  ListeningPortSchema,
  ProgressEventSchema,
} from "./runner-schema-env.ts";

/** Call ids: positive safe integers (a JSON number past 2^53 cannot be told from its neighbours). */
export const CallId = Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER });

export const ErrorBodySchema = Type.Object({
  // Any catalog-shaped code: one this end does not know becomes INTERNAL (runner-validate.ts).
  code: Type.String({ pattern: "^[A-Z][A-Z0-9_]{0,63}$" }),
  message: Message,
  details: Type.Optional(
    Type.Record(Type.String({ maxLength: LIMITS.id }), Type.Unknown(), { maxProperties: 64 }),
  ),
});

export const RunnerInfoSchema = Type.Object({
  id: Id,
  hostname: Type.String({ minLength: 1, maxLength: 253 }),
  runtimes: Type.Array(Runtime, { maxItems: 8 }),
  cpus: Count,
  memoryBytes: Count,
  diskFreeBytes: Count,
  cgroupMode: lit(["v1", "v2", "hybrid"]),
  idRange: IdRange,
  name: Type.Optional(Type.String({ pattern: RUNNER_NAME_PATTERN, maxLength: 63 })),
  labels: Type.Optional(
    Type.Record(
      Type.String({ pattern: RUNNER_LABEL_KEY_PATTERN, maxLength: 63 }),
      Type.String({ pattern: RUNNER_LABEL_VALUE_PATTERN, maxLength: 63 }),
      { maxProperties: 32 },
    ),
  ),
  usage: Type.Optional(
    Type.Object({
      cpuEwmaCores: Type.Number({ minimum: 0, maximum: 65536 }),
      memoryWorkingSetBytes: Count,
      memoryAvailableBytes: Count,
    }),
  ),
  unschedulable: Type.Optional(Message),
  hostId: Type.Optional(Type.String({ pattern: "^[a-z0-9]{8,64}$" })),
});

const SecretDeliverySchema = Type.Object({
  name: Type.String({ minLength: 1, maxLength: LIMITS.id }),
  kind: lit(["env", "file"]),
  path: Type.Optional(Ref),
  value: Type.String({ maxLength: 1024 * 1024 }),
});

export const RunnerEnvSpecSchema = Type.Object({
  id: Id,
  name: Type.String({ minLength: 1, maxLength: LIMITS.id }),
  slot: Type.Integer({ minimum: 0, maximum: 1_000_000 }),
  image: Ref,
  runtime: Runtime,
  resources: ResourcesSchema,
  egress: Type.Optional(
    Type.Union([
      Type.Object({ mode: Type.Literal("all") }),
      Type.Object({ mode: Type.Literal("none") }),
      Type.Object({
        mode: Type.Literal("allow"),
        cidrs: Type.Array(Type.String({ maxLength: 64 }), { maxItems: LIMITS.small }),
      }),
    ]),
  ),
  secrets: Type.Optional(Type.Array(SecretDeliverySchema, { maxItems: LIMITS.small })),
  user: Type.Optional(Type.String({ pattern: ENV_USER_RE.source, maxLength: 32 })),
  env: Type.Optional(EnvVarsSchema),
  volumes: Type.Optional(VolumesSchema),
  template: Type.Optional(Type.String({ pattern: TEMPLATE_KEY_RE.source, maxLength: 128 })),
  warm: Type.Optional(Type.Boolean()),
  cpuBurst: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: CPU_BURST_MAX })),
  io: Type.Optional(
    Type.Object(
      {
        readBps: Type.Optional(Type.Integer({ minimum: 1 })),
        writeBps: Type.Optional(Type.Integer({ minimum: 1 })),
        readIops: Type.Optional(Type.Integer({ minimum: 1 })),
        writeIops: Type.Optional(Type.Integer({ minimum: 1 })),
      },
      { additionalProperties: false },
    ),
  ),
});

const TemplateKey = Type.String({ pattern: TEMPLATE_KEY_RE.source, maxLength: 128 });
const SavedTemplateSchema = Type.Object({
  key: TemplateKey,
  image: Ref,
  diskBytes: Type.Integer({ minimum: 0 }),
  usedBytes: Type.Integer({ minimum: 0 }),
});

export const ExecRequestSchema = Type.Object({
  cmd: Type.Array(Type.String({ maxLength: 131_072 }), { minItems: 1, maxItems: LIMITS.small }),
  tty: Type.Boolean(),
  cols: Type.Optional(Type.Integer({ minimum: 0, maximum: 65_535 })),
  rows: Type.Optional(Type.Integer({ minimum: 0, maximum: 65_535 })),
  env: Type.Optional(
    Type.Record(Type.String({ maxLength: LIMITS.ref }), Type.String({ maxLength: 131_072 }), {
      maxProperties: LIMITS.small,
    }),
  ),
  cwd: Type.Optional(Ref),
  user: Type.Optional(Type.String({ maxLength: LIMITS.id })),
  helper: Type.Optional(Type.Boolean()),
});

const Ids = Type.Array(Id, { maxItems: LIMITS.list });
const Refs = Type.Array(Ref, { maxItems: LIMITS.list });
const Anything = Type.Unknown();

/** Arguments of each call, as the control plane sends them (remote-runner.ts). */
export const CALL_ARGS = {
  info: Type.Tuple([]),
  ensureRunning: Type.Tuple([RunnerEnvSpecSchema]),
  ensureStopped: Type.Tuple([RunnerEnvSpecSchema, Type.Integer({ minimum: 0, maximum: 86_400_000 })]),
  remove: Type.Tuple([Id]),
  observe: Type.Tuple([Id]),
  list: Type.Tuple([]),
  sweep: Type.Tuple([Ids]),
  appendEvent: Type.Tuple([Id, Message]),
  listImages: Type.Tuple([]),
  hasImage: Type.Tuple([Ref]),
  removeImage: Type.Tuple([Ref]),
  pruneImages: Type.Union([Type.Tuple([]), Type.Tuple([Type.Object({ keep: Type.Optional(Refs) })])]),
  setResources: Type.Tuple([RunnerEnvSpecSchema]),
  stats: Type.Tuple([Id]),
  dnsStats: Type.Tuple([]),
  listPorts: Type.Tuple([Id]),
  // JSON turns an `undefined` array element into null.
  importImage: Type.Tuple([Ref, Type.Union([Ref, Type.Null()])]),
  ensureBaseImage: Type.Tuple([Type.Object({ mirror: Type.Optional(Ref) })]),
  pullImage: Type.Union([
    Type.Tuple([Ref]),
    Type.Tuple([
      Ref,
      Type.Object({
        credential: Type.Optional(
          Type.Object({
            username: Type.String({ maxLength: LIMITS.ref }),
            password: Type.String({ maxLength: LIMITS.ref }),
          }),
        ),
      }),
    ]),
  ]),
  fetchFeature: Type.Tuple([FeatureFetchRequestSchema]),
  buildImage: Type.Tuple([BuildImageRequestSchema]),
  imageLabels: Type.Tuple([Ref]),
  saveTemplate: Type.Tuple([Id, TemplateKey]),
  removeTemplate: Type.Tuple([TemplateKey]),
  logs: Type.Tuple([
    Id,
    Type.Object({
      follow: Type.Boolean(),
      tail: Type.Optional(Type.Integer({ minimum: 0, maximum: 10_000_000 })),
    }),
  ]),
} satisfies Record<WireMethod, TSchema>;

export type CallMethod = keyof typeof CALL_ARGS;

/** The first frame of an exec stream (streams/exec-frames.ts): which environment, what to run. */
export const ExecStreamRequest = Type.Tuple([Id, ExecRequestSchema]);

/** Each call's result in its "ok" frame. Void calls may carry anything: the control plane drops it. */
export const CALL_RESULTS = {
  info: RunnerInfoSchema,
  ensureRunning: EnvObservedSchema,
  ensureStopped: EnvObservedSchema,
  remove: Anything,
  observe: EnvObservedSchema,
  list: Type.Array(EnvObservedSchema, { maxItems: LIMITS.list }),
  sweep: Ids,
  appendEvent: Anything,
  listImages: Type.Array(ImageInfoSchema, { maxItems: LIMITS.list }),
  hasImage: Type.Boolean(),
  removeImage: Refs,
  pruneImages: Type.Object({ removed: Refs, freedBytes: Count }),
  setResources: EnvObservedSchema,
  stats: EnvStatsSchema,
  dnsStats: DnsStatsSchema,
  listPorts: Type.Array(ListeningPortSchema, { maxItems: MAX_LISTENING_PORTS }),
  importImage: ImageInfoSchema,
  ensureBaseImage: ImageInfoSchema,
  pullImage: ImageInfoSchema,
  fetchFeature: FetchedFeatureSchema,
  buildImage: BuiltImageSchema,
  imageLabels: ImageLabelsSchema,
  saveTemplate: SavedTemplateSchema,
  removeTemplate: Anything,
  logs: Anything,
} satisfies Record<CallMethod, TSchema>;

const Chunk = Type.String({ maxLength: LIMITS.chunk });
const Absent = Type.Undefined();

/** "out" events each kind of call may carry, and their data. Any other pair is a protocol error. */
export const OUT_EVENTS = {
  progress: { progress: ProgressEventSchema },
  logs: { log: Chunk, end: Absent, error: ErrorBodySchema },
} as const;

/** What ends an exec stream (runner-exec-stream.ts): the command's status, or Warren's failure. */
export const EXEC_END = {
  // The command's status, or 128+signal.
  exit: Type.Integer({ minimum: -1, maximum: 65_535 }),
  error: ErrorBodySchema,
} as const;

/** Exec stream input that is not bytes (runner-exec-stream.ts). */
export const EXEC_INPUT = {
  resize: Type.Object({
    cols: Type.Integer({ minimum: 1, maximum: 65_535 }),
    rows: Type.Integer({ minimum: 1, maximum: 65_535 }),
  }),
  signal: Type.String({ pattern: "^SIG[A-Z0-9]{2,10}$" }),
} as const;

/** "in" events on the control stream (a log follow's close) and their data. */
export const IN_EVENTS = {
  close: Absent,
} as const;

const strict = { additionalProperties: false } as const;
/** Envelopes by frame type: the frame's own fields; payloads are checked against the tables above. */
export const RUNNER_FRAMES = {
  hello: Type.Object({ t: Type.Literal("hello"), version: Type.Integer(), info: Anything }, strict),
  ok: Type.Object({ t: Type.Literal("ok"), id: CallId, result: Type.Optional(Anything) }, strict),
  err: Type.Object({ t: Type.Literal("err"), id: CallId, error: ErrorBodySchema }, strict),
  out: Type.Object(
    {
      t: Type.Literal("out"),
      id: CallId,
      ev: lit(["progress", "error", "log", "end"]),
      data: Type.Optional(Anything),
    },
    strict,
  ),
} satisfies Record<RunnerFrame["t"], TSchema>;

export const SERVER_FRAMES = {
  welcome: Type.Object({ t: Type.Literal("welcome"), runnerId: Id }, strict),
  call: Type.Object(
    {
      t: Type.Literal("call"),
      id: CallId,
      method: Type.String({ minLength: 1, maxLength: 64 }),
      args: Type.Array(Anything, { maxItems: 8 }),
    },
    strict,
  ),
  in: Type.Object(
    {
      t: Type.Literal("in"),
      id: CallId,
      ev: lit(["close"]),
      data: Type.Optional(Anything),
    },
    strict,
  ),
} satisfies Record<ServerFrame["t"], TSchema>;

type Same<A, B> = [A] extends [B]
  ? [B] extends [A]
    ? [keyof A] extends [keyof B]
      ? [keyof B] extends [keyof A]
        ? true
        : false
      : false
    : false
  : false;
/** Compiles only when the schema's type and the protocol's interface agree (fields and types). */
function sameShape<A, B>(_: Same<A, B>): void {}
sameShape<Static<typeof RunnerInfoSchema>, RunnerInfo>(true);
sameShape<Static<typeof EnvObservedSchema>, EnvObserved>(true);
sameShape<Static<typeof ResourcesSchema>, Resources>(true);
sameShape<Static<typeof ImageInfoSchema>, ImageInfo>(true);
sameShape<Static<typeof EnvStatsSchema>, EnvStats>(true);
sameShape<Static<typeof DnsStatsSchema>, DnsStats>(true);
sameShape<Static<typeof ListeningPortSchema>, ListeningPort>(true);
sameShape<Static<typeof ProgressEventSchema>, ProgressEvent>(true);
sameShape<Static<typeof RunnerEnvSpecSchema>, RunnerEnvSpec>(true);
sameShape<Static<typeof SecretDeliverySchema>, SecretDelivery>(true);
sameShape<Static<typeof ExecRequestSchema>, ExecRequest>(true);
sameShape<Static<typeof FeatureFetchRequestSchema>, FeatureFetchRequest>(true);
sameShape<Static<typeof FetchedFeatureSchema>, FetchedFeature>(true);
sameShape<Static<typeof BuildImageRequestSchema>, BuildImageRequest>(true);
sameShape<Static<typeof BuiltImageSchema>, BuiltImage>(true);
sameShape<Static<typeof SavedTemplateSchema>, SavedTemplate>(true);
sameShape<Omit<Static<typeof ErrorBodySchema>, "code">, Omit<ErrorBody, "code">>(true);
