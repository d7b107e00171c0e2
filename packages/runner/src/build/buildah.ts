// The Dockerfile builder: buildah with `--isolation=oci --runtime=runc` (NEVER chroot, which runs
// RUN steps as host root), so every RUN is a runc container:
//   - in a user namespace mapped to the environment's own id range (root in a RUN step is the
//     environment's root outside, an unprivileged id);
//   - joined to the environment's network namespace, so its egress policy and resolver apply;
//   - with the environment's memory and CPU limits, and the host's rlimit ceilings;
//   - from bases Warren fetched itself (base-layout.ts): `--pull=never`, FROM lines rewritten to
//     local OCI layouts, ADD of URLs refused (dockerfile-scan.ts); buildah never fetches.
// Each build has its own buildah storage under the image store's tmp (removed after), and its
// result is committed into Warren's store through the LayerStore (build-commit.ts).
import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { type ImageInfo, type ProgressFn, WarrenError } from "@warren/protocol";
import type { EngineContext } from "../engine/context.ts";
import { slotRange } from "../host/idrange.ts";
import { hostNames } from "../host/names.ts";
import { netnsPath, networkConfig } from "../network/addr.ts";
import { readHandle } from "../state/handle.ts";
import { resolveBase } from "./bases.ts";
import { commitBuilt } from "./build-commit.ts";
import { runBuildah } from "./buildah-run.ts";
import { rewriteFrom, scanDockerfile } from "./dockerfile-scan.ts";

/** What builds one Dockerfile into the store (the seam Features build on). */
export interface DockerfileBuildRequest {
  envId: string;
  /** Host directory holding the build context (private to this build). */
  contextHostDir: string;
  dockerfileText: string;
  args?: Record<string, string>;
  target?: string;
  /** Ref the result is stored under. */
  tag: string;
  /** Extra config labels (devcontainer.metadata). */
  labels?: Record<string, string>;
}

export interface ImageBuilder {
  buildFromDockerfile(
    ctx: EngineContext,
    req: DockerfileBuildRequest,
    progress: ProgressFn,
  ): Promise<ImageInfo>;
}

/** How one buildah build runs: everything the argv depends on (buildahBudArgs is pure). */
export interface BudPlan {
  storageRoot: string;
  runRoot: string;
  dockerfile: string;
  contextDir: string;
  uidStart: number;
  netns: string;
  resolverIp: string;
  memoryBytes: number;
  cpus: number;
  args: Record<string, string>;
  target?: string;
  labels: Record<string, string>;
  tag: string;
  /** An empty directory (with fs/cgroup) mounted read-only at /sys. */
  emptySys: string;
}

/** Global flags: this build's own storage, never the host's. */
export function storageArgs(p: Pick<BudPlan, "storageRoot" | "runRoot">): string[] {
  return [
    "--root",
    p.storageRoot,
    "--runroot",
    p.runRoot,
    "--storage-driver",
    "overlay",
    "--cgroup-manager",
    "cgroupfs",
  ];
}

export function buildahBudArgs(p: BudPlan): string[] {
  const ids = `0:${p.uidStart}:65536`;
  const argv = [
    ...storageArgs(p),
    "bud",
    "--isolation=oci",
    "--runtime=runc",
    "--pull=never",
    "--layers=false",
    "--format=oci",
    `--userns-uid-map=${ids}`,
    `--userns-gid-map=${ids}`,
    `--network=ns:${p.netns}`,
    `--dns=${p.resolverIp}`,
    "--no-hosts",
    // sysfs cannot be mounted: the network namespace belongs to the environment's user
    // namespace, not the build's. An empty read-only /sys stands in (no host sysfs leaks in).
    `--volume=${p.emptySys}:/sys:ro`,
    `--memory=${Math.max(p.memoryBytes, 64 * 1024 * 1024)}b`,
    "--cpu-period=100000",
    `--cpu-quota=${Math.max(1000, Math.round(p.cpus * 100000))}`,
    // The host's hard limits (DESIGN.md): a higher one fails every RUN.
    "--ulimit=nofile=20000:20000",
    "--ulimit=nproc=32768:32768",
    "-f",
    p.dockerfile,
    "-t",
    `localhost/warren-build:${p.tag}`,
  ];
  for (const [k, v] of Object.entries(p.args)) argv.push(`--build-arg=${k}=${v}`);
  for (const [k, v] of Object.entries(p.labels)) argv.push(`--label=${k}=${v}`);
  if (p.target) argv.push(`--target=${p.target}`);
  argv.push(p.contextDir);
  if (argv.some((a) => /isolation=chroot/.test(a))) throw new Error("chroot isolation is never used");
  return argv;
}

/** The environment's ids, network and limits, from its handle; ENV_NOT_RUNNING without a network. */
async function envSandbox(ctx: EngineContext, envId: string) {
  const names = hostNames(ctx.cfg, envId);
  const handle = await readHandle(names.handleFile);
  const netns = netnsPath(networkConfig(ctx.cfg), envId);
  const hasNet = await fs.stat(netns).catch(() => null);
  if (!handle || !hasNet) {
    throw new WarrenError(
      "ENV_NOT_RUNNING",
      "the environment is not running; a build uses its network and ids: start it first",
    );
  }
  const map = slotRange(ctx.idRange, handle.spec.slot);
  return { map, netns, spec: handle.spec, resolverIp: networkConfig(ctx.cfg).resolverIp };
}

/**
 * Builds `dockerfileText` with `contextHostDir` as context for environment `envId`, and stores the
 * result under `tag`. The context directory is the caller's (it is not removed here).
 */
export async function buildFromDockerfile(
  ctx: EngineContext,
  req: DockerfileBuildRequest,
  progress: ProgressFn,
): Promise<ImageInfo> {
  const sb = await envSandbox(ctx, req.envId);
  const scan = scanDockerfile(req.dockerfileText, req.args ?? {});
  const work = await buildDir(ctx);
  try {
    const bases = new Map<string, Awaited<ReturnType<typeof resolveBase>>>();
    for (const f of scan.froms) {
      if (f.local || bases.has(f.image)) continue;
      bases.set(f.image, await resolveBase(ctx, f.image, progress));
    }
    const dockerfile = path.join(work, "Dockerfile");
    await fs.writeFile(
      dockerfile,
      rewriteFrom(scan, (image) => `oci:${bases.get(image)!.dir}:base`),
    );
    const emptySys = path.join(work, "sys");
    await fs.mkdir(path.join(emptySys, "fs", "cgroup"), { recursive: true, mode: 0o755 });
    const plan: BudPlan = {
      emptySys,
      storageRoot: path.join(work, "storage"),
      runRoot: path.join(work, "run"),
      dockerfile,
      contextDir: req.contextHostDir,
      uidStart: sb.map.hostStart,
      netns: sb.netns,
      resolverIp: sb.resolverIp,
      memoryBytes: sb.spec.resources.memoryBytes,
      cpus: sb.spec.resources.cpus,
      args: req.args ?? {},
      ...(req.target ? { target: req.target } : {}),
      labels: req.labels ?? {},
      tag: path
        .basename(work)
        .replace(/[^a-z0-9]/gi, "")
        .slice(0, 64)
        .toLowerCase(),
    };
    await runBuildah(buildahBudArgs(plan), work, progress, "build");
    const out = path.join(work, "out");
    await runBuildah(
      [
        ...storageArgs(plan),
        "push",
        "--disable-compression",
        `localhost/warren-build:${plan.tag}`,
        `oci:${out}:built`,
      ],
      work,
      progress,
      "commit",
    );
    return await commitBuilt(ctx.images, out, req.tag, [...bases.values()], progress);
  } finally {
    await cleanupStorage(work);
    await fs.rm(work, { recursive: true, force: true });
  }
}

/**
 * This build's own directory (buildah's storage and the rewritten Dockerfile) under
 * <root>/builds. 0711 on the way down: a RUN step's root is the environment's unprivileged id,
 * and runc, once in that user namespace, must still reach the rootfs it mounts.
 */
async function buildDir(ctx: EngineContext): Promise<string> {
  const parent = path.join(ctx.cfg.root, "builds");
  await fs.mkdir(parent, { recursive: true, mode: 0o711 });
  await fs.chmod(parent, 0o711);
  const dir = path.join(parent, `${process.pid}.${randomBytes(6).toString("hex")}`);
  await fs.mkdir(dir, { mode: 0o711 });
  return dir;
}

/** Buildah's overlay mounts under its storage must go before the directory does. */
async function cleanupStorage(work: string): Promise<void> {
  const { run } = await import("../host/run.ts");
  const storage = path.join(work, "storage");
  if (!(await fs.stat(storage).catch(() => null))) return;
  await run(
    "buildah",
    [...storageArgs({ storageRoot: storage, runRoot: path.join(work, "run") }), "rm", "--all"],
    {
      allowFail: true,
    },
  );
  await run(
    "buildah",
    [...storageArgs({ storageRoot: storage, runRoot: path.join(work, "run") }), "rmi", "--all", "--force"],
    {
      allowFail: true,
    },
  );
  const { unmountTree } = await import("../storage/unmount.ts");
  await unmountTree(work).catch(() => undefined);
}

export const buildahBuilder: ImageBuilder = { buildFromDockerfile };
