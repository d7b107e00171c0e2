// JSON Schemas (TypeBox) of the runner's build capability on the wire (runner-build.ts): Feature
// fetches and image builds. Kept apart from runner-schema.ts (which imports these) so each file
// stays about one thing; the same rules hold: every string, array and record is bounded, and
// `sameShape` in runner-schema.ts fails to compile when a schema and its type drift apart.
import { Type } from "@sinclair/typebox";
import { WIRE_LIMITS as LIMITS } from "./runner-wire.ts";

const Id = Type.String({ minLength: 1, maxLength: LIMITS.id });
const Ref = Type.String({ maxLength: LIMITS.ref });
/** An absolute path inside an environment (the runner checks it again before using it). */
const InsidePath = Type.String({ minLength: 1, maxLength: LIMITS.ref, pattern: "^/" });
const Strings = Type.Record(Type.String({ maxLength: LIMITS.ref }), Type.String({ maxLength: 131_072 }), {
  maxProperties: LIMITS.small,
});

export const RegistryCredentialSchema = Type.Object({
  username: Type.String({ maxLength: LIMITS.ref }),
  password: Type.String({ maxLength: LIMITS.ref }),
});

export const FeatureFetchRequestSchema = Type.Object({
  envId: Id,
  source: Type.String({ minLength: 1, maxLength: LIMITS.ref }),
  configDir: InsidePath,
  repoRoot: InsidePath,
  credential: Type.Optional(RegistryCredentialSchema),
});

/** devcontainer-feature.json is bounded by the frame itself; its keys are bounded here. */
export const FetchedFeatureSchema = Type.Object({
  source: Ref,
  id: Type.String({ minLength: 1, maxLength: LIMITS.ref }),
  digest: Ref,
  metadata: Type.Record(Type.String({ maxLength: LIMITS.ref }), Type.Unknown(), { maxProperties: 1024 }),
});

export const FeatureInstallSchema = Type.Object({
  source: Ref,
  id: Type.String({ minLength: 1, maxLength: LIMITS.ref }),
  digest: Ref,
  options: Type.Record(
    Type.String({ maxLength: LIMITS.ref }),
    Type.Union([Type.String({ maxLength: 131_072 }), Type.Boolean()]),
    { maxProperties: LIMITS.small },
  ),
});

export const DockerfileBuildSchema = Type.Object({
  dockerfile: InsidePath,
  context: InsidePath,
  args: Type.Optional(Strings),
  target: Type.Optional(Type.String({ maxLength: LIMITS.id })),
});

export const BuildImageRequestSchema = Type.Object({
  envId: Id,
  repoRoot: InsidePath,
  dockerfile: Type.Optional(DockerfileBuildSchema),
  baseImage: Type.Optional(Ref),
  features: Type.Optional(Type.Array(FeatureInstallSchema, { maxItems: 256 })),
  remoteUser: Type.Optional(Type.String({ maxLength: LIMITS.id })),
  containerUser: Type.Optional(Type.String({ maxLength: LIMITS.id })),
  metadataLabel: Type.Optional(Type.String({ maxLength: 1024 * 1024 })),
  cacheScope: Type.Optional(Type.String({ maxLength: 128 })),
});

/** An image's config labels. */
export const ImageLabelsSchema = Type.Record(
  Type.String({ maxLength: LIMITS.ref }),
  Type.String({ maxLength: 1024 * 1024 }),
  { maxProperties: LIMITS.small },
);

/** RunnerEnvSpec.env: containerEnv, bounded like exec's env. */
export const EnvVarsSchema = Strings;

/** RunnerEnvSpec.volumes: named folders on the environment's disk, bound at an absolute target. */
export const VolumesSchema = Type.Array(
  Type.Object({
    name: Type.String({ minLength: 1, maxLength: 128, pattern: "^[A-Za-z0-9][A-Za-z0-9_.-]*$" }),
    target: InsidePath,
  }),
  { maxItems: 64 },
);
