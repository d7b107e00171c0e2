// The clone, build and restart steps of the setup controller. Each takes the state and returns
// the next one; the controller saves it. Output goes to the environment's log by step.
import {
  type BuildImageRequest,
  DEFAULT_ENV_USER,
  type RunnerApi,
  type RunnerEnvSpec,
  WarrenError,
} from "@warren/protocol";
import type { UploadService } from "../../services/uploads.ts";
import type { SetupState } from "../../store/queries/setups.ts";
import { cloneRepo } from "./clone.ts";
import { execRun } from "./exec-run.ts";
import type { StepLog } from "./step-log.ts";

export interface StepContext {
  runner: RunnerApi;
  envId: string;
  /** The user the environment's commands run as now (the bootstrap container's). */
  user: string;
  log: StepLog;
  uploads?: UploadService;
  /** The environment's organisation: its builds share a cache with nobody else's. */
  orgId?: string;
}

export async function cloneStep(ctx: StepContext, s: SetupState): Promise<SetupState> {
  const dir = s.dir;
  if (s.source.url) {
    await cloneRepo(
      ctx.runner,
      { id: ctx.envId, user: ctx.user },
      {
        url: s.source.url,
        dir,
        ...(s.source.branch ? { branch: s.source.branch } : {}),
        ...(s.source.knownHosts ? { knownHosts: s.source.knownHosts } : {}),
      },
      (line) => ctx.log("clone", line),
    );
  } else if (s.source.uploadId) {
    if (!ctx.uploads) throw new WarrenError("INTERNAL", "this server keeps no uploads");
    const target = `/workspaces/${dir}`;
    ctx.log("clone", `unpacking the uploaded directory into ${target}`);
    // tar runs inside the environment, as its user: the archive can only ever write what that
    // user may write there.
    const r = await execRun(
      ctx.runner,
      ctx.envId,
      {
        cmd: [
          "/bin/sh",
          "-c",
          'rm -rf -- "$1" && mkdir -p -- "$1" && exec tar -x --no-same-owner -C "$1" -f -',
          "sh",
          target,
        ],
        user: ctx.user,
      },
      {
        stdin: ctx.uploads.open(s.source.uploadId),
        onLine: (l) => ctx.log("clone", l),
        timeoutMs: 30 * 60_000,
      },
    );
    if (r.exitCode !== 0)
      throw new WarrenError(
        "INVALID_ARGUMENT",
        `unpacking the uploaded directory failed (tar exit ${r.exitCode}); see \`warren logs\``,
      );
    await ctx.uploads.remove(s.source.uploadId).catch(() => undefined);
  }
  return { ...s, phase: "configure" };
}

export async function buildStep(ctx: StepContext, s: SetupState): Promise<SetupState> {
  const req: BuildImageRequest = {
    ...(s.build as unknown as Omit<BuildImageRequest, "envId">),
    envId: ctx.envId,
    ...(ctx.orgId ? { cacheScope: ctx.orgId } : {}),
  };
  ctx.log(
    "build",
    req.dockerfile ? `building ${req.dockerfile.dockerfile}` : `adding Features to ${req.baseImage}`,
  );
  const built = await ctx.runner.buildImage(req, (ev) => ctx.log("build", ev.message));
  ctx.log("build", `${built.cached ? "cached" : "built"} ${built.ref}`);
  return { ...s, image: built.ref, phase: "restart" };
}

/** Stops the bootstrap container and starts the configured image on the same disk. */
export async function restartStep(
  ctx: StepContext & {
    spec: RunnerEnvSpec;
    save: (o: {
      image: string;
      user: string;
      env: Record<string, string>;
      volumes: { name: string; target: string }[];
    }) => Promise<RunnerEnvSpec>;
  },
  s: SetupState,
): Promise<{ setup: SetupState; startedAt?: string }> {
  const merged = (s.merged ?? {}) as { containerEnv?: Record<string, string>; mounts?: unknown[] };
  const image = s.image ?? ctx.spec.image;
  const user = s.remoteUser ?? ctx.spec.user ?? DEFAULT_ENV_USER;
  const env = merged.containerEnv ?? {};
  const volumes = volumeMounts(merged.mounts ?? []);
  const spec = await ctx.save({ image, user, env, volumes });
  const was = ctx.spec;
  const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
  if (
    was.image === image &&
    (was.user ?? DEFAULT_ENV_USER) === user &&
    same(was.env ?? {}, env) &&
    same(was.volumes ?? [], volumes)
  ) {
    // The bootstrap container already is what the configuration asks for: no restart.
    ctx.log("restart", `${image} already runs as configured; no restart needed`);
    return { setup: { ...s, image, phase: "hooks" } };
  }
  ctx.log("restart", `restarting into ${image}${user !== DEFAULT_ENV_USER ? ` as ${user}` : ""}`);
  await ctx.runner.ensureStopped(ctx.spec, 10_000);
  const observed = await ctx.runner.ensureRunning(spec);
  if (observed.state !== "running")
    throw new Error(`runner reported the environment ${observed.state} after restarting it into ${image}`);
  if (user !== DEFAULT_ENV_USER) {
    // The clone was made by the bootstrap container's user; the workspace is the remote user's.
    await execRun(ctx.runner, ctx.envId, {
      cmd: ["/bin/sh", "-c", 'chown -R -- "$1": "$2"', "sh", user, `/workspaces/${s.dir}`],
      user: "root",
    });
  }
  return {
    setup: { ...s, image, phase: "hooks" },
    ...(observed.startedAt ? { startedAt: observed.startedAt } : {}),
  };
}

/** Named volumes from the merged mounts (bind mounts were refused by the policy). */
export function volumeMounts(mounts: unknown[]): { name: string; target: string }[] {
  const out: { name: string; target: string }[] = [];
  for (const m of mounts) {
    let type: string | undefined;
    let source: string | undefined;
    let target: string | undefined;
    if (typeof m === "string") {
      const kv = Object.fromEntries(m.split(",").map((p) => p.split("=", 2) as [string, string]));
      type = kv["type"];
      source = kv["source"] ?? kv["src"];
      target = kv["target"] ?? kv["dst"] ?? kv["destination"];
    } else if (m && typeof m === "object") {
      ({ type, source, target } = m as { type?: string; source?: string; target?: string });
    }
    if (type !== "volume" || !target) continue;
    const name =
      (source ?? target)
        .replace(/[^A-Za-z0-9_.-]/g, "-")
        .replace(/^[.-]+/, "")
        .slice(0, 64) || "volume";
    out.push({ name, target });
  }
  return out;
}
