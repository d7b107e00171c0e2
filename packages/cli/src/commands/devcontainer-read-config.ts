// warren devcontainer read-config [DIR|GIT_URL] [--json] [--devcontainer PATH] [--image-metadata FILE]
// Reads a repository's devcontainer.json on this machine and prints the merged configuration the
// way `warren up --repo` will use it: variables resolved, local Features merged in install order,
// and what the organisation's default policy would refuse. Images and OCI Features are not fetched
// here; give the image's devcontainer.metadata label with --image-metadata to merge it too.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import {
  checkPolicy,
  configFolder,
  DEFAULT_DEVCONTAINER_POLICY,
  type DevcontainerConfig,
  describeCommand,
  devcontainerId,
  type FeatureRef,
  featureKey,
  findDevcontainerConfigs,
  forwardedPorts,
  imageMetadata,
  imageSource,
  lifecycleCommands,
  localEnvNames,
  type MergedConfig,
  mergeConfiguration,
  orderFeatures,
  parseDevcontainer,
  parseFeatureMetadata,
  repoPath,
  substituteVariables,
  waitFor,
} from "@warren/devcontainer";
import { LIFECYCLE_HOOKS, WarrenError } from "@warren/protocol";
import { printJson } from "../format.ts";

export interface ReadConfigResult {
  configFile: string;
  workspaceFolder: string;
  configuration: DevcontainerConfig;
  mergedConfiguration: MergedConfig;
  /** Local Features in install order (others are fetched when the environment is built). */
  features: string[];
  warnings: string[];
  /** What the default policy refuses, or absent when nothing is. */
  refused?: string;
}

const MAX_FILE = 1024 * 1024;

function readSmall(file: string, shown: string): string {
  const st = statSync(file, { throwIfNoEntry: false });
  if (!st?.isFile()) throw new WarrenError("INVALID_ARGUMENT", `${shown} is not a file`);
  if (st.size > MAX_FILE)
    throw new WarrenError("INVALID_ARGUMENT", `${shown} is larger than ${MAX_FILE} bytes`);
  return readFileSync(file, "utf8");
}

function candidates(dir: string): string[] {
  const files: string[] = [];
  if (existsSync(path.join(dir, ".devcontainer.json"))) files.push(".devcontainer.json");
  const dc = path.join(dir, ".devcontainer");
  if (statSync(dc, { throwIfNoEntry: false })?.isDirectory()) {
    for (const e of readdirSync(dc, { withFileTypes: true })) {
      if (e.isFile() && e.name === "devcontainer.json") files.push(".devcontainer/devcontainer.json");
      if (e.isDirectory() && existsSync(path.join(dc, e.name, "devcontainer.json"))) {
        files.push(`.devcontainer/${e.name}/devcontainer.json`);
      }
    }
  }
  return findDevcontainerConfigs(files);
}

const isLocalFeature = (ref: string) => ref.startsWith("./") || ref.startsWith("../");

/** The core of the command, without printing: also what the conformance test calls. */
export function readConfig(
  dir: string,
  opts: {
    devcontainer?: string;
    imageMetadataLabel?: string;
    localEnv?: Record<string, string>;
    localFolder?: string;
  },
): ReadConfigResult {
  const root = path.resolve(dir);
  const found = candidates(root);
  const warnings: string[] = [];
  const configFile = opts.devcontainer ? repoPath(".", opts.devcontainer, "--devcontainer") : found[0];
  if (!configFile) {
    throw new WarrenError(
      "INVALID_ARGUMENT",
      `no devcontainer.json in ${root} (looked for .devcontainer/devcontainer.json, .devcontainer.json and .devcontainer/NAME/devcontainer.json); add one, or pass --devcontainer PATH`,
    );
  }
  if (!opts.devcontainer && found.length > 1 && !found[0]!.startsWith(".devcontainer/devcontainer.json")) {
    warnings.push(
      `several configurations (${found.join(", ")}); using ${configFile}: pick one with --devcontainer`,
    );
  }
  const text = readSmall(path.join(root, configFile), configFile);
  const parsed = parseDevcontainer(text, configFile);
  warnings.push(...parsed.warnings);

  const env = opts.localEnv ?? (process.env as Record<string, string>);
  const localEnv: Record<string, string> = {};
  for (const n of localEnvNames(text)) if (typeof env[n] === "string") localEnv[n] = env[n];
  const localFolder = opts.localFolder ?? root;
  const workspaceFolder = parsed.config.workspaceFolder ?? `/workspaces/${path.basename(localFolder)}`;
  const vars = {
    localWorkspaceFolder: localFolder,
    containerWorkspaceFolder: workspaceFolder,
    localEnv,
    devcontainerId: devcontainerId({
      "devcontainer.local_folder": localFolder,
      "devcontainer.config_file": path.join(localFolder, configFile),
    }),
  };
  const config = substituteVariables(parsed.config, vars);
  imageSource(config, configFile); // refuses a Dockerfile or context outside the repository

  const features: FeatureRef[] = [];
  for (const ref of Object.keys(config.features ?? {})) {
    if (!isLocalFeature(ref)) {
      warnings.push(
        `Feature ${ref}: not fetched by read-config; what it adds is merged when the environment is built`,
      );
      continue;
    }
    const rel = repoPath(
      repoPath(configFolder(configFile), ref, `Feature ${ref}`),
      "devcontainer-feature.json",
      `Feature ${ref}`,
    );
    const meta = parseFeatureMetadata(readSmall(path.join(root, rel), rel), rel);
    warnings.push(...meta.warnings);
    features.push({
      source: ref,
      id: String(meta.metadata["id"]),
      metadata: substituteVariables(meta.metadata, vars),
    });
  }
  // Only the Features read here can be ordered; the others are ordered when the environment is built.
  const local = new Set(features.map((f) => featureKey(f.source)));
  const override = (config.overrideFeatureInstallOrder ?? []).filter((o) => local.has(featureKey(o)));
  const order = orderFeatures(features, override);
  const ordered = order.map((s) => features.find((f) => f.source === s)!);
  const metadata = substituteVariables(imageMetadata(opts.imageMetadataLabel), vars);
  const merged = mergeConfiguration(
    config,
    metadata,
    ordered.map((f) => ({ id: f.source, metadata: f.metadata })),
  );
  const result: ReadConfigResult = {
    configFile,
    workspaceFolder,
    configuration: config,
    mergedConfiguration: merged,
    features: order,
    warnings,
  };
  try {
    checkPolicy(merged, DEFAULT_DEVCONTAINER_POLICY);
  } catch (err) {
    if (!(err instanceof WarrenError)) throw err;
    result.refused = err.message;
  }
  return result;
}

function isGitUrl(s: string): boolean {
  return /^(https?|ssh|git|file):\/\//i.test(s) || /^[\w.-]+@[\w.-]+:/.test(s);
}

function cloneShallow(url: string): string {
  if (url.startsWith("-")) throw new WarrenError("INVALID_ARGUMENT", `${url} is not a git URL`);
  const dir = mkdtempSync(path.join(tmpdir(), "warren-read-config-"));
  const r = spawnSync("git", ["clone", "--depth", "1", "--quiet", "--", url, path.join(dir, "repo")], {
    stdio: ["ignore", "ignore", "pipe"],
    encoding: "utf8",
    timeout: 120_000,
  });
  if (r.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    const why = r.error ? r.error.message : (r.stderr ?? "").trim().split("\n").slice(-2).join(" ");
    throw new WarrenError(
      "INVALID_ARGUMENT",
      `git clone ${url} failed: ${why}; check the URL and your git credentials`,
    );
  }
  return dir;
}

function repoName(url: string): string {
  const last = url.replace(/\/+$/, "").split(/[/:]/).pop() ?? "repo";
  return last.replace(/\.git$/, "") || "repo";
}

function summary(r: ReadConfigResult): string {
  const m = r.mergedConfiguration;
  const src = imageSource(r.configuration, r.configFile);
  const lines = [`config:     ${r.configFile}`, `workspace:  ${r.workspaceFolder}`];
  if (src.kind === "image") lines.push(`image:      ${src.image}`);
  else if (src.kind === "dockerfile") lines.push(`build:      ${src.dockerfile} (context ${src.context})`);
  else lines.push("image:      none given: Warren's base image");
  if (r.features.length) lines.push(`features:   ${r.features.join(" -> ")}`);
  if (m.remoteUser) lines.push(`remoteUser: ${m.remoteUser}`);
  const ports = forwardedPorts(m).map((p) => (p.label ? `${p.port} (${p.label})` : String(p.port)));
  if (ports.length) lines.push(`ports:      ${ports.join(", ")}`);
  for (const hook of LIFECYCLE_HOOKS) {
    for (const c of lifecycleCommands(m, hook)) lines.push(`${hook}: ${describeCommand(c)}`);
  }
  lines.push(`waitFor:    ${waitFor(m)}`);
  for (const w of r.warnings) lines.push(`warning: ${w}`);
  if (r.refused) lines.push(`refused: ${r.refused}`);
  return `${lines.join("\n")}\n`;
}

export async function devcontainerReadConfigCommand(
  target: string | undefined,
  opts: { json?: boolean; devcontainer?: string; imageMetadata?: string },
): Promise<number> {
  const label = opts.imageMetadata ? readSmall(opts.imageMetadata, opts.imageMetadata) : undefined;
  const src = target ?? ".";
  let result: ReadConfigResult;
  if (isGitUrl(src)) {
    const tmp = cloneShallow(src);
    try {
      result = readConfig(path.join(tmp, "repo"), {
        devcontainer: opts.devcontainer,
        imageMetadataLabel: label,
        localFolder: repoName(src),
      });
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  } else {
    result = readConfig(src, { devcontainer: opts.devcontainer, imageMetadataLabel: label });
  }
  if (opts.json) printJson(result);
  else process.stdout.write(summary(result));
  return 0;
}
