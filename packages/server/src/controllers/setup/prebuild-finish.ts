// The end of a prebuild run: once its environment's onCreate and updateContent hooks ran, note
// the commit and the configuration's digest (inside it), stop it, save its disk on its runner as
// the template keyed by (organisation, repository, branch, digest), record the row, and delete
// the environment. A failed run records why and deletes the environment too (its log goes with
// it; the message names the step and how to see more: run it again and `warren logs -f`).

import type { RunnerApi } from "@warren/protocol";
import { type Clock, isoNow } from "../../clock.ts";
import type { Logger } from "../../logger.ts";
import type { EnvironmentService } from "../../services/environments.ts";
import type { RunnerFor } from "../../services/runner-for.ts";
import type { Db } from "../../store/db.ts";
import { type EnvRow, getEnvById } from "../../store/queries/envs.ts";
import { type PrebuildRow, prebuildOfEnv, updatePrebuild } from "../../store/queries/prebuilds.ts";
import { parseSetup, type SetupState } from "../../store/queries/setups.ts";
import { execRun } from "./exec-run.ts";
import { ownerActor } from "./owner.ts";
import { templateKey } from "./prebuild-key.ts";
import type { PrebuiltSetup } from "./prebuild-match.ts";
import { headCommit, readConfigDigest } from "./prebuild-update.ts";

/** env_id of a row whose run is starting: its environment does not exist yet. */
export const CLAIM_PREFIX = "claim-";

export interface PrebuildFinishDeps {
  db: Db;
  /** Environment calls (saveTemplate goes to the environment's runner). */
  runner: RunnerApi;
  /** The organisation's runner, for removing its old template. */
  runnerFor: RunnerFor<Pick<RunnerApi, "removeTemplate">>;
  envs: Pick<EnvironmentService, "stop" | "delete">;
  clock: Clock;
  logger: Logger;
}

/** What a prebuild environment's row says about its run (pure; table-tested). */
export function prebuildOutcome(
  row: Pick<EnvRow, "state" | "desired">,
  s: SetupState | undefined,
): { kind: "wait" } | { kind: "failed"; message: string } | { kind: "done" } {
  if (!s) return { kind: "failed", message: "the prebuild environment lost its setup" };
  if (row.state === "failed") return { kind: "failed", message: "the prebuild environment failed to start" };
  if (s.phase === "failed") return { kind: "failed", message: s.message ?? "the setup failed" };
  const hook = s.hooks.find((h) => h.state === "failed");
  if (hook && s.created)
    return { kind: "failed", message: `${hook.name} failed: exit ${hook.exitCode ?? "?"}` };
  if (row.desired !== "running") return { kind: "wait" };
  if (s.created && s.settled) return { kind: "done" };
  return { kind: "wait" };
}

/** What an environment made from the prebuild starts with. */
export function prebuiltSetup(env: EnvRow, s: SetupState): PrebuiltSetup {
  const {
    source: _s,
    localEnv: _l,
    prebuild: _p,
    phase: _ph,
    created: _c,
    startedFor: _sf,
    settled: _st,
    failures: _f,
    message: _m,
    ...setup
  } = s;
  return {
    setup,
    user: env.user_name,
    className: env.class_name,
    env: env.container_env ? (JSON.parse(env.container_env) as Record<string, string>) : {},
    volumes: env.volumes ? (JSON.parse(env.volumes) as { name: string; target: string }[]) : [],
  };
}

/** Looks at a prebuild environment and ends its run when it is done or failed. Idempotent. */
export async function finishPrebuild(d: PrebuildFinishDeps, envId: string): Promise<void> {
  const pb = await prebuildOfEnv(d.db, envId);
  if (!pb) return;
  const env = await getEnvById(d.db, envId);
  const now = () => isoNow(d.clock);
  if (!env) {
    // A run being started (services/prebuilds.ts claims the row before its environment exists).
    const age = d.clock.now() - Date.parse(pb.updated_at);
    if (pb.env_id?.startsWith(CLAIM_PREFIX) && age < 10 * 60_000) return;
    await updatePrebuild(d.db, pb.id, {
      env_id: null,
      state: "failed",
      message: "the prebuild environment was removed before it finished",
      updated_at: now(),
    });
    return;
  }
  const s = parseSetup(env);
  const outcome = prebuildOutcome(env, s);
  if (outcome.kind === "wait") return;
  const owner = ownerActor(env);
  if (outcome.kind === "failed") {
    d.logger.warn({ prebuild: pb.id, envId, message: outcome.message }, "prebuild failed");
    await updatePrebuild(d.db, pb.id, {
      env_id: null,
      state: "failed",
      message: outcome.message,
      updated_at: now(),
    });
    await d.envs.delete(owner, envId, true).catch(() => undefined);
    return;
  }
  const setup = s as SetupState;
  const user = setup.remoteUser ?? env.user_name;
  const ctx = { runner: d.runner, envId, user, log: Object.assign(() => {}, { flush: async () => {} }) };
  const commit = await headCommit(ctx, setup.dir);
  const digest = await readConfigDigest(ctx, setup);
  // The runner made /workspaces/<name> for this environment's name; nobody else needs it.
  await execRun(d.runner, envId, { cmd: ["rmdir", "--", `/workspaces/${env.name}`], user: "root" }).catch(
    () => undefined,
  );
  const key = templateKey({ orgId: pb.org_id, repo: pb.repo, branch: pb.branch, configDigest: digest });
  await d.envs.stop(owner, envId, 10);
  const saved = await d.runner.saveTemplate(envId, key);
  await updatePrebuild(d.db, pb.id, {
    env_id: null,
    state: "ready",
    message: null,
    template_key: key,
    runner_id: env.runner_id,
    config_digest: digest,
    commit_sha: commit,
    image: env.image,
    setup: JSON.stringify(prebuiltSetup(env, setup)),
    built_at: now(),
    updated_at: now(),
  });
  d.logger.info({ prebuild: pb.id, key, commit, usedBytes: saved.usedBytes }, "prebuild ready");
  if (pb.template_key && pb.template_key !== key) await removeOld(d, pb);
  await d.envs.delete(owner, envId, true);
}

async function removeOld(d: PrebuildFinishDeps, pb: PrebuildRow): Promise<void> {
  await d
    .runnerFor(pb.org_id)
    .removeTemplate(pb.template_key as string)
    .catch((err: unknown) => d.logger.warn({ err, prebuild: pb.id }, "the old disk template stays"));
}
