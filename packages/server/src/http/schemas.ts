// TypeBox request schemas; fastify validates with them before a handler runs.

import { type Static, Type } from "@sinclair/typebox";
import { RUNTIMES } from "@warren/protocol";

const Runtime = Type.Union(RUNTIMES.map((r) => Type.Literal(r)));
// Loose string on purpose: the service's own checks give the friendlier message.
const Name = Type.String({ minLength: 1, maxLength: 200 });
/** "1"/"0" and "true"/"false" as query flags. */
const Flag = Type.Union([Type.Literal("1"), Type.Literal("0"), Type.Literal("true"), Type.Literal("false")]);

export function flag(v: string | undefined, fallback: boolean): boolean {
  return v === undefined ? fallback : v === "1" || v === "true";
}

export const NameParams = Type.Object({ name: Name });
export type NameParams = Static<typeof NameParams>;

export const CreateEnvBody = Type.Object(
  {
    name: Type.Optional(Type.String()),
    className: Type.Optional(Type.String({ minLength: 1 })),
    image: Type.Optional(Type.String({ minLength: 1 })),
    runtime: Type.Optional(Runtime),
    cpus: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
    memory: Type.Optional(Type.String()),
    disk: Type.Optional(Type.String()),
    // Any spelling of a repository URL; the service normalizes it and names the field if it is bad.
    project: Type.Optional(Type.String()),
    // Loose here too: checkEnvUser's message says what a name may contain.
    user: Type.Optional(Type.String({ maxLength: 200 })),
    // A duration (30m, 2h) or "never"; the service names the forms in its refusal.
    idleTimeout: Type.Optional(Type.String({ maxLength: 32 })),
    // Checked field by field in services/repo-source.ts, whose messages name the fix.
    repo: Type.Optional(
      Type.Object(
        {
          url: Type.Optional(Type.String({ maxLength: 1024 })),
          uploadId: Type.Optional(Type.String({ maxLength: 64 })),
          branch: Type.Optional(Type.String({ maxLength: 255 })),
          devcontainerPath: Type.Optional(Type.String({ maxLength: 512 })),
          knownHosts: Type.Optional(Type.Array(Type.String({ maxLength: 4096 }), { maxItems: 32 })),
          localEnv: Type.Optional(Type.Record(Type.String(), Type.String({ maxLength: 4096 }))),
          localWorkspaceFolder: Type.Optional(Type.String({ maxLength: 4096 })),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
export type CreateEnvBody = Static<typeof CreateEnvBody>;

export const SetResourcesBody = Type.Object(
  {
    cpus: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
    memory: Type.Optional(Type.String()),
    pids: Type.Optional(Type.Integer({ minimum: 1 })),
    idleTimeout: Type.Optional(Type.String({ maxLength: 32 })),
  },
  { additionalProperties: false },
);
export type SetResourcesBody = Static<typeof SetResourcesBody>;

export const WaitQuery = Type.Object({ wait: Type.Optional(Flag) });
export type WaitQuery = Static<typeof WaitQuery>;

export const StopBody = Type.Union([
  Type.Object(
    { graceSeconds: Type.Optional(Type.Number({ minimum: 0, maximum: 3600 })) },
    { additionalProperties: false },
  ),
  Type.Null(),
]);
export type StopBody = Static<typeof StopBody>;

export const DeleteQuery = Type.Object({ force: Type.Optional(Flag) });
export type DeleteQuery = Static<typeof DeleteQuery>;

export const LogsQuery = Type.Object({
  follow: Type.Optional(Flag),
  tail: Type.Optional(Type.Integer({ minimum: 0 })),
});
export type LogsQuery = Static<typeof LogsQuery>;

export const ExecQuery = Type.Object({
  cmd: Type.String({ minLength: 2 }),
  tty: Type.Optional(Flag),
  cols: Type.Optional(Type.String({ pattern: "^[0-9]{1,5}$" })),
  rows: Type.Optional(Type.String({ pattern: "^[0-9]{1,5}$" })),
  // exec -e, -w, -u: checked in full by parseExecQuery (protocol exec-options.ts).
  env: Type.Optional(Type.String({ maxLength: 131_072 })),
  cwd: Type.Optional(Type.String({ maxLength: 4096 })),
  user: Type.Optional(Type.String({ maxLength: 80 })),
});
export type ExecQuery = Static<typeof ExecQuery>;

export const CreateClassBody = Type.Object(
  {
    name: Type.String(),
    cpus: Type.Number({ exclusiveMinimum: 0 }),
    memory: Type.String(),
    disk: Type.String(),
    pids: Type.Optional(Type.Integer({ minimum: 1 })),
    runtime: Type.Optional(Runtime),
    maxCpus: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
    maxMemory: Type.Optional(Type.String()),
    maxDisk: Type.Optional(Type.String()),
    egress: Type.Optional(Type.String({ maxLength: 16384 })),
    idleTimeout: Type.Optional(Type.String({ maxLength: 32 })),
    // Loose here: the service (protocol class-placement.ts) names the bad label or the bounds.
    requiredLabels: Type.Optional(
      Type.Record(Type.String({ maxLength: 200 }), Type.String({ maxLength: 200 }), { maxProperties: 64 }),
    ),
    cpuOvercommit: Type.Optional(Type.Number()),
    memoryOvercommit: Type.Optional(Type.Number()),
    diskOvercommit: Type.Optional(Type.Number()),
    // Loose here too: the service (protocol io-limits.ts) names the bad limit and its bounds.
    ioLimits: Type.Optional(
      Type.Object(
        {
          readBps: Type.Optional(Type.Number()),
          writeBps: Type.Optional(Type.Number()),
          readIops: Type.Optional(Type.Number()),
          writeIops: Type.Optional(Type.Number()),
        },
        { additionalProperties: false },
      ),
    ),
    // Loose here too: the service (protocol cpu-burst.ts) checks it against the class's cpus.
    cpuBurst: Type.Optional(Type.Union([Type.Number(), Type.Null()])),
  },
  { additionalProperties: false },
);
export type CreateClassBody = Static<typeof CreateClassBody>;

export const ImportBody = Type.Object(
  { path: Type.String({ minLength: 1 }), ref: Type.Optional(Type.String({ minLength: 1 })) },
  { additionalProperties: false },
);
export type ImportBody = Static<typeof ImportBody>;

export const BaseImageBody = Type.Union([
  Type.Object({ mirror: Type.Optional(Type.String({ minLength: 1 })) }, { additionalProperties: false }),
  Type.Null(),
]);
export type BaseImageBody = Static<typeof BaseImageBody>;

export const PullBody = Type.Object(
  { ref: Type.String({ minLength: 1, maxLength: 255 }) },
  { additionalProperties: false },
);
export type PullBody = Static<typeof PullBody>;

export const HostParams = Type.Object({ host: Type.String({ minLength: 1, maxLength: 255 }) });
export type HostParams = Static<typeof HostParams>;

export const RegistryLoginBody = Type.Object(
  {
    username: Type.String({ minLength: 1, maxLength: 255 }),
    password: Type.String({ minLength: 1, maxLength: 4096 }),
  },
  { additionalProperties: false },
);
export type RegistryLoginBody = Static<typeof RegistryLoginBody>;
