// The configure step: read the repository's devcontainer.json and .warren/automations.yaml out of
// the bootstrap container (through exec, so a symlink in the repository can only ever show the
// environment its own files), pull the image or fetch Features, merge, check the policy, and
// decide what to build. Nothing here changes the environment; the next steps do.
import {
  checkPolicy,
  DEFAULT_DEVCONTAINER_POLICY,
  type DevcontainerConfig,
  type FeatureRef,
  featureOptions,
  findDevcontainerConfigs,
  imageMetadata,
  mergeConfiguration,
  missingDependencies,
  orderFeatures,
  parseAutomations,
  parseDevcontainer,
  substituteVariables,
} from "@warren/devcontainer";
import {
  type BuildImageRequest,
  DEFAULT_IMAGE,
  type RepoSource,
  type RunnerApi,
  WarrenError,
} from "@warren/protocol";
import type { SetupState } from "../../store/queries/setups.ts";
import { execRun } from "./exec-run.ts";
import { readRepoFiles } from "./repo-files.ts";
import type { StepLog } from "./step-log.ts";

const MAX_CONFIG_BYTES = 1024 * 1024;

export interface ConfigureContext {
  runner: RunnerApi;
  envId: string;
  /** The user the bootstrap container's commands run as. */
  user: string;
  log: StepLog;
  /** Pulls an image for the environment's organisation (ImageService.ensureForEnv as its owner). */
  pull(ref: string): Promise<void>;
  /** Login for an OCI Feature's registry, when the organisation has one. */
  credentialFor(ref: string): Promise<{ username: string; password: string } | undefined>;
}

/** Reads a file of the repository inside the environment; undefined when it does not exist. */
async function readRepoFile(ctx: ConfigureContext, file: string): Promise<string | undefined> {
  const r = await execRun(
    ctx.runner,
    ctx.envId,
    { cmd: ["/bin/sh", "-c", '[ -f "$1" ] || exit 3; exec cat -- "$1"', "sh", file], user: ctx.user },
    { keepStdout: MAX_CONFIG_BYTES + 1, timeoutMs: 30_000 },
  );
  if (r.exitCode === 3) return undefined;
  if (r.exitCode !== 0)
    throw new WarrenError("INVALID_ARGUMENT", `could not read ${file} (exit ${r.exitCode})`);
  if (r.stdout.length > MAX_CONFIG_BYTES)
    throw new WarrenError(
      "INVALID_ARGUMENT",
      `${file} is larger than 1 MiB; it cannot be a devcontainer configuration`,
    );
  return r.stdout.toString("utf8");
}

const posix = (...parts: string[]) => parts.join("/").replace(/\/+/g, "/");
const dirname = (p: string) => p.slice(0, Math.max(1, p.lastIndexOf("/")));

export async function configure(ctx: ConfigureContext, s: SetupState): Promise<SetupState> {
  const root = `/workspaces/${s.dir}`;
  const log = (line: string) => ctx.log("configure", line);
  const files = await readRepoFiles(ctx.runner, ctx.envId, ctx.user, root, s.source.devcontainerPath);
  let configFile = s.source.devcontainerPath;
  if (configFile === undefined) {
    const found = findDevcontainerConfigs(files.candidates);
    configFile = found[0];
    if (found.length > 1)
      log(`found ${found.length} configurations, using ${configFile}; pick another with --devcontainer PATH`);
  }
  // localEnv is read once, here, and not kept: it is whatever the user's shell had.
  const given = s.source as RepoSource;
  const localEnv = s.localEnv ?? given.localEnv ?? {};
  const { localEnv: _dropped, ...source } = given;
  const next: SetupState = { ...s, source, phase: "restart" };
  delete next.localEnv;
  if (files.automationsTooBig) log("automations: .warren/automations.yaml is larger than 1 MiB; ignored");
  const automations =
    files.automations !== undefined && !files.automationsTooBig
      ? parseAutomationsText(ctx, files.automations)
      : undefined;
  if (automations) next.automations = automations;
  if (!configFile) {
    log("no devcontainer.json: the environment keeps its image");
    next.image = s.image ?? DEFAULT_IMAGE;
    next.merged = {};
    return next;
  }
  if (files.configTooBig)
    throw new WarrenError(
      "INVALID_ARGUMENT",
      `${configFile} is larger than 1 MiB; it cannot be a devcontainer configuration`,
    );
  // The shell picked the first candidate in the spec's order; if the order differed, read the one chosen.
  const text =
    files.config && files.config.file === configFile
      ? files.config.text
      : await readRepoFile(ctx, posix(root, configFile));
  if (text === undefined) {
    throw new WarrenError(
      "INVALID_ARGUMENT",
      `${configFile} does not exist in the repository; give the path of a devcontainer.json relative to its root with --devcontainer`,
    );
  }
  const { config: raw, warnings } = parseDevcontainer(text, configFile);
  for (const w of warnings) log(`warning: ${w}`);
  const configDir = dirname(posix(root, configFile));
  const containerWorkspaceFolder = raw.workspaceFolder ?? root;
  const config = substituteVariables(raw, {
    localWorkspaceFolder: s.source.localWorkspaceFolder ?? s.dir,
    containerWorkspaceFolder,
    localEnv,
    devcontainerId: ctx.envId,
  }) as DevcontainerConfig;

  const dockerfile = config.build?.dockerfile ?? config.dockerFile;
  let metadata: ReturnType<typeof imageMetadata> = [];
  if (config.image && !dockerfile) {
    log(`pulling ${config.image}`);
    await ctx.pull(config.image);
    const labels = await ctx.runner.imageLabels(config.image);
    metadata = imageMetadata(labels["devcontainer.metadata"]);
  }
  const features = await fetchFeatures(ctx, config, configDir, root);
  const merged = mergeConfiguration(config, metadata, features);
  checkPolicy(merged, DEFAULT_DEVCONTAINER_POLICY);

  next.configFile = configFile;
  next.merged = merged as unknown as Record<string, unknown>;
  next.workspaceFolder = merged.workspaceFolder ?? root;
  const remoteUser = merged.remoteUser ?? merged.containerUser;
  if (remoteUser) next.remoteUser = remoteUser;
  else delete next.remoteUser;
  if (dockerfile || features.length > 0) {
    const order = orderFeatures(features, config.overrideFeatureInstallOrder);
    const bySource = new Map(features.map((f) => [f.source, f]));
    const build: Omit<BuildImageRequest, "envId"> = {
      repoRoot: root,
      ...(dockerfile
        ? {
            dockerfile: {
              dockerfile: posix(configDir, dockerfile),
              context: posix(configDir, config.build?.context ?? config.context ?? "."),
              ...(config.build?.args ? { args: config.build.args } : {}),
              ...(config.build?.target ? { target: config.build.target } : {}),
            },
          }
        : { baseImage: config.image ?? DEFAULT_IMAGE }),
      features: order.map((source) => {
        const f = bySource.get(source)!;
        return {
          source,
          id: f.id,
          digest: (f as FeatureRef & { digest: string }).digest,
          options: featureOptions(f.metadata, (config.features?.[source] ?? f.given) as never),
        };
      }),
      ...(merged.remoteUser ? { remoteUser: merged.remoteUser } : {}),
      ...(merged.containerUser ? { containerUser: merged.containerUser } : {}),
    };
    next.build = build as unknown as Record<string, unknown>;
    next.phase = "build";
    return next;
  }
  next.image = config.image ?? s.image ?? DEFAULT_IMAGE;
  return next;
}

async function fetchFeatures(
  ctx: ConfigureContext,
  config: DevcontainerConfig,
  configDir: string,
  repoRoot: string,
): Promise<(FeatureRef & { digest: string; given?: unknown })[]> {
  const out: (FeatureRef & { digest: string; given?: unknown })[] = [];
  // The listed Features, then what they depend on and the config does not list (as the
  // reference does), a bounded number of rounds.
  let wanted: { source: string; options: unknown }[] = Object.entries(config.features ?? {}).map(
    ([source, options]) => ({ source, options }),
  );
  for (let round = 0; wanted.length > 0 && round < 8; round++) {
    for (const w of wanted)
      out.push({ ...(await fetchOne(ctx, w.source, configDir, repoRoot)), given: w.options });
    wanted = missingDependencies(out);
  }
  if (wanted.length > 0)
    throw new WarrenError(
      "INVALID_ARGUMENT",
      `Features depend on each other more than 8 levels deep (${wanted.map((w) => w.source).join(", ")}); check their dependsOn`,
    );
  return out;
}

async function fetchOne(
  ctx: ConfigureContext,
  source: string,
  configDir: string,
  repoRoot: string,
): Promise<FeatureRef & { digest: string }> {
  {
    ctx.log("features", `fetching ${source}`);
    const credential =
      source.startsWith(".") || source.startsWith("https://") ? undefined : await ctx.credentialFor(source);
    const f = await ctx.runner.fetchFeature(
      { envId: ctx.envId, source, configDir, repoRoot, ...(credential ? { credential } : {}) },
      (ev) => ctx.log("features", ev.message),
    );
    return { source, id: f.id, digest: f.digest, metadata: f.metadata };
  }
}

function parseAutomationsText(ctx: ConfigureContext, text: string): Record<string, unknown> | undefined {
  // A malformed file never blocks the environment: its errors go to the log.
  const parsed = parseAutomations(text, ".warren/automations.yaml");
  for (const e of parsed.errors) ctx.log("automations", e);
  return parsed.automations as unknown as Record<string, unknown> | undefined;
}
