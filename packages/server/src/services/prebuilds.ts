// Prebuilds for the API: make or re-run one (`warren prebuild --repo URL`), list, remove, and the
// push webhook. A run is a repository environment whose setup is marked `prebuild` (its
// clone, configuration, build and onCreate/updateContent hooks run as usual); the prebuild
// controller saves its disk as a template when it is done (controllers/setup/prebuild-*.ts).
// Making and removing prebuilds is for admins: every member's `up --repo` starts from them. Any
// member's token may trigger a run of an existing prebuild (the webhook), which changes nothing
// about what it builds.
import { randomBytes } from "node:crypto";
import {
  type CreatePrebuildRequest,
  normalizeProject,
  type Prebuild,
  type PrebuildWebhookRequest,
  parseIdleTimeout,
  type RunnerApi,
  WarrenError,
} from "@warren/protocol";
import { type Clock, isoNow } from "../clock.ts";
import { CLAIM_PREFIX } from "../controllers/setup/prebuild-finish.ts";
import type { Db } from "../store/db.ts";
import {
  claimPrebuildRun,
  deletePrebuild,
  findPrebuild,
  getPrebuild,
  insertPrebuild,
  listPrebuilds,
  type PrebuildRow,
  updatePrebuild,
} from "../store/queries/prebuilds.ts";
import type { Actor, UserActor } from "./actor.ts";
import { requireUser } from "./actor.ts";
import type { EnvironmentService } from "./environments.ts";
import { checkRepoSource } from "./repo-source.ts";
import type { RunnerFor } from "./runner-for.ts";
import { requireAdmin } from "./scope.ts";

/** Schedules closer than this would keep a runner building all day. */
export const MIN_PREBUILD_EVERY_S = 600;

export interface PrebuildService {
  create(a: Actor, req: CreatePrebuildRequest): Promise<Prebuild>;
  list(a: Actor): Promise<Prebuild[]>;
  remove(a: Actor, idOrRepo: string, branch?: string): Promise<void>;
  webhook(a: Actor, req: PrebuildWebhookRequest): Promise<Prebuild>;
  /** The controller's timer: a scheduled prebuild is due. */
  runDue(row: PrebuildRow): Promise<void>;
}

export function toPrebuild(r: PrebuildRow): Prebuild {
  return {
    id: r.id,
    repo: r.repo,
    url: r.url,
    branch: r.branch,
    state: r.state,
    ...(r.message ? { message: r.message } : {}),
    ...(r.commit_sha ? { commit: r.commit_sha } : {}),
    ...(r.config_digest ? { configDigest: r.config_digest } : {}),
    ...(r.image ? { image: r.image } : {}),
    ...(r.every_s ? { everySeconds: r.every_s } : {}),
    ...(r.next_run_at ? { nextRunAt: r.next_run_at } : {}),
    ...(r.built_at ? { builtAt: r.built_at } : {}),
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

/** The run's owner as an actor: scheduled and webhook runs act as whoever made the prebuild. */
function ownerOf(r: PrebuildRow): UserActor {
  return { kind: "user", userId: r.owner_id, orgId: r.org_id, role: "member", via: "token" };
}

export function parseEvery(every: string): number {
  let s: number | null;
  try {
    s = parseIdleTimeout(every, "--every");
  } catch {
    s = -1;
  }
  if (s === null || s < MIN_PREBUILD_EVERY_S) {
    throw new WarrenError(
      "INVALID_ARGUMENT",
      `invalid --every "${every.slice(0, 40)}": give a duration of at least 10m, such as 6h or 1d`,
      { field: "every" },
    );
  }
  return s;
}

export function createPrebuildService(o: {
  db: Db;
  clock: Clock;
  envs: Pick<EnvironmentService, "create" | "delete">;
  runnerFor: RunnerFor<Pick<RunnerApi, "removeTemplate">>;
}): PrebuildService {
  const { db, clock } = o;
  const now = () => isoNow(clock);

  /** Starts a run unless one is under way; the row as it is then. */
  async function run(actor: UserActor, row: PrebuildRow): Promise<PrebuildRow> {
    const claim = `${CLAIM_PREFIX}${randomBytes(8).toString("hex")}`;
    if (!(await claimPrebuildRun(db, row.id, claim, now()))) {
      // A run is under way: one more once it is done (the webhook's push came after its fetch).
      await updatePrebuild(db, row.id, { next_run_at: now(), updated_at: now() });
      return (await getPrebuild(db, row.org_id, row.id)) ?? row;
    }
    const next = row.every_s ? new Date(clock.now() + row.every_s * 1000).toISOString() : null;
    await updatePrebuild(db, row.id, { next_run_at: next, updated_at: now() });
    try {
      const { env } = await o.envs.create(
        actor,
        {
          name: `prebuild-${randomBytes(4).toString("hex")}`,
          repo: {
            url: row.url,
            ...(row.branch ? { branch: row.branch } : {}),
            ...(row.devcontainer_path ? { devcontainerPath: row.devcontainer_path } : {}),
          },
        },
        { wait: false, prebuild: true },
      );
      await updatePrebuild(db, row.id, { env_id: env.id, updated_at: now() });
    } catch (err) {
      await updatePrebuild(db, row.id, {
        env_id: null,
        state: "failed",
        message: err instanceof Error ? err.message.slice(0, 2000) : String(err),
        updated_at: now(),
      });
      throw err;
    }
    return (await getPrebuild(db, row.org_id, row.id)) ?? row;
  }

  async function find(a: UserActor, idOrRepo: string, branch?: string): Promise<PrebuildRow> {
    const byId = await getPrebuild(db, a.orgId, idOrRepo);
    const row = byId ?? (await findByRepo(a.orgId, idOrRepo, branch));
    if (!row) {
      throw new WarrenError(
        "PREBUILD_NOT_FOUND",
        `no prebuild of ${idOrRepo.slice(0, 200)}${branch ? ` (branch ${branch})` : ""}; \`warren prebuild ls\` lists them, and an admin makes one with \`warren prebuild --repo URL\``,
        { repo: idOrRepo },
      );
    }
    return row;
  }

  async function findByRepo(orgId: string, repo: string, branch?: string): Promise<PrebuildRow | undefined> {
    let normalized: string;
    try {
      normalized = normalizeProject(repo);
    } catch {
      return undefined;
    }
    return findPrebuild(db, orgId, normalized, branch ?? "");
  }

  return {
    async create(a, req) {
      requireAdmin(a, "making a prebuild");
      const user = requireUser(a, "making a prebuild");
      const src = checkRepoSource({
        url: req.repo,
        ...(req.branch ? { branch: req.branch } : {}),
        ...(req.devcontainerPath ? { devcontainerPath: req.devcontainerPath } : {}),
      });
      const url = src.url as string;
      const repo = normalizeProject(url);
      const branch = src.branch ?? "";
      const every = req.every !== undefined ? parseEvery(req.every) : undefined;
      let row = await findPrebuild(db, user.orgId, repo, branch);
      if (!row) {
        row = {
          id: `pb_${randomBytes(8).toString("hex")}`,
          org_id: user.orgId,
          owner_id: user.userId,
          repo,
          url,
          branch,
          devcontainer_path: src.devcontainerPath ?? null,
          state: "pending",
          message: null,
          env_id: null,
          runner_id: null,
          template_key: null,
          config_digest: null,
          commit_sha: null,
          image: null,
          setup: null,
          every_s: every ?? null,
          next_run_at: null,
          built_at: null,
          created_at: now(),
          updated_at: now(),
        };
        await insertPrebuild(db, row);
      } else {
        const set = {
          url,
          owner_id: user.userId,
          devcontainer_path: src.devcontainerPath ?? null,
          ...(every !== undefined ? { every_s: every } : {}),
          updated_at: now(),
        };
        await updatePrebuild(db, row.id, set);
        row = { ...row, ...set };
      }
      return toPrebuild(await run(user, row));
    },

    async list(a) {
      const user = requireUser(a, "listing prebuilds");
      return (await listPrebuilds(db, user.orgId)).map(toPrebuild);
    },

    async remove(a, idOrRepo, branch) {
      requireAdmin(a, "removing a prebuild");
      const user = requireUser(a, "removing a prebuild");
      const row = await find(user, idOrRepo, branch);
      if (row.env_id && !row.env_id.startsWith(CLAIM_PREFIX)) {
        await o.envs.delete(ownerOf(row), row.env_id, true).catch(() => undefined);
      }
      if (row.template_key) await o.runnerFor(row.org_id).removeTemplate(row.template_key);
      await deletePrebuild(db, row.id);
    },

    async webhook(a, req) {
      const user = requireUser(a, "the prebuild webhook");
      if (typeof req.repo !== "string" || (req.branch !== undefined && typeof req.branch !== "string"))
        throw new WarrenError("INVALID_ARGUMENT", "send {repo, branch} as JSON strings", { field: "repo" });
      const row = await find(user, req.repo, req.branch);
      return toPrebuild(await run(ownerOf(row), row));
    },

    async runDue(row) {
      await run(ownerOf(row), row);
    },
  };
}
