// Image use cases. The runner owns the image store, one cache per host (layers are shared by
// digest); the control plane decides what each organisation sees of it (migration 010).
//
// An organisation holds a reference once it pulled or imported it (a row in org_images). It lists,
// uses and removes only what it holds, plus the built-in base image, which every organisation
// shares. An image no organisation holds (there before the upgrade, or added by the system) is the
// bootstrap organisation's. So an image pulled with one organisation's registry login is never
// handed to another: creating an environment from a reference the organisation does not hold
// pulls it again with that organisation's own login (or fails as not found for a local name),
// even though the runner has a copy. Members list and pull (`warren up` pulls for them); import,
// removal and prune change what the whole organisation has, so they are for admins.
//
// Without `db` (unit tests of other areas) nothing is scoped, as before teams existed; the system
// actor sees everything. A call without an actor is refused (services/actor.ts).

import path from "node:path";
import type { ImageInfo, ProgressFn, RunnerImages } from "@warren/protocol";
import { DEFAULT_IMAGE, namesRegistry, parseImageRef, WarrenError } from "@warren/protocol";
import { type Clock, isoNow, systemClock } from "../clock.ts";
import type { Db } from "../store/db.ts";
import { BOOTSTRAP_ORG_ID } from "../store/migrations/005_identity.ts";
import {
  deleteOrgImages,
  holdersOf,
  imageHolders,
  orgEnvsUsing,
  putOrgImage,
} from "../store/queries/org-images.ts";
import type { Actor } from "./actor.ts";
import { baseTagHint, imageMissing } from "./env-spec.ts";
import type { RegistryLoginService } from "./registry-logins.ts";
import { oneRunner, type RunnerFor } from "./runner-for.ts";
import { actorOrg, requireAdmin, requirePlatform } from "./scope.ts";

export interface ImageService {
  list(a: Actor): Promise<ImageInfo[]>;
  import(a: Actor, file: string, ref: string | undefined, progress: ProgressFn): Promise<ImageInfo>;
  ensureBase(a: Actor, mirror: string | undefined, progress: ProgressFn): Promise<ImageInfo>;
  /** Pulls from a registry, with the actor's organisation's login for the ref's host, if any. */
  pull(a: Actor, ref: string, progress: ProgressFn): Promise<ImageInfo>;
  /**
   * Drops the organisation's reference; the runner deletes the image only when no other
   * organisation holds it. Refused (IMAGE_IN_USE) while an environment is made from it.
   */
  remove(a: Actor, ref: string): Promise<{ removed: string[] }>;
  /** The runner's prune, never removing what another organisation holds. */
  prune(a: Actor): Promise<{ removed: string[]; freedBytes: number }>;
  /** Before an environment is created from `ref`: the actor's organisation holds it, or pulls it now. */
  /** On `chosen` (the runner a placement picked) or else the organisation's runner. */
  ensureForEnv(a: Actor, ref: string, chosen?: Pick<RunnerImages, "hasImage" | "pullImage">): Promise<void>;
}

type Holders = Map<string, Set<string>>;

/** The base image is shared; an image nobody holds is the bootstrap organisation's. */
function visibleTo(org: string, ref: string, holders: Holders): boolean {
  if (ref === DEFAULT_IMAGE) return true;
  const h = holders.get(ref);
  return h ? h.has(org) : org === BOOTSTRAP_ORG_ID;
}

const notHeld = (ref: string) =>
  new WarrenError(
    "IMAGE_NOT_FOUND",
    `image "${ref}" is not among this organisation's images; ${baseTagHint(ref) ?? "run `warren image ls` to see them, or `warren image pull` / `warren image import` to add it"}`,
    { ref },
  );

/** `image rm` of an image the caller has no such name for: the list is the next step. */
const nothingToRemove = (ref: string) =>
  new WarrenError(
    "IMAGE_NOT_FOUND",
    `there is no image "${ref}" to remove; \`warren image ls\` lists the images there are`,
    { ref },
  );
const isNotFound = (err: unknown) => err instanceof WarrenError && err.code === "IMAGE_NOT_FOUND";

export function createImageService(o: {
  runner: RunnerImages;
  /** The runner of each organisation (runner-for.ts); default: `runner` for everybody. */
  runnerFor?: RunnerFor<RunnerImages>;
  logins?: Pick<RegistryLoginService, "credentialFor">;
  /** Scopes images to organisations; without it every caller sees the whole store. */
  db?: Db;
  clock?: Clock;
}): ImageService {
  const { db } = o;
  const runnerFor = o.runnerFor ?? oneRunner(o.runner);
  const clock = o.clock ?? systemClock;
  const scope = (a: Actor): { db: Db; org: string } | undefined => {
    const org = actorOrg(a);
    return db && org ? { db, org } : undefined;
  };
  const record = async (a: Actor, info: ImageInfo): Promise<void> => {
    const s = scope(a);
    if (!s || info.ref === DEFAULT_IMAGE) return;
    await putOrgImage(s.db, { org_id: s.org, ref: info.ref, digest: info.digest, created_at: isoNow(clock) });
  };

  /** IMAGE_IN_USE naming only the caller's own environments (the runner's error names anyone's). */
  const inUse = async (s: { db: Db; org: string }, ref: string, names?: string[]): Promise<never> => {
    const mine = names ?? (await orgEnvsUsing(s.db, s.org, ref));
    const who = mine.length > 0 ? `environments ${mine.join(", ")}` : "environments on this runner";
    throw new WarrenError(
      "IMAGE_IN_USE",
      `image ${ref} is used by ${who}; delete them first (\`warren rm NAME\`)`,
      { ref, environments: mine },
    );
  };

  function pull(a: Actor, ref: string, progress: ProgressFn): Promise<ImageInfo> {
    return pullOn(runnerFor(actorOrg(a)), a, ref, progress);
  }

  /** `on`: the organisation's runner, or the one a placement chose. */
  function pullOn(
    on: Pick<RunnerImages, "pullImage">,
    a: Actor,
    ref: string,
    progress: ProgressFn,
  ): Promise<ImageInfo> {
    // Parsed synchronously, so a malformed ref is a plain 400 before any stream starts.
    const { registry } = parseImageRef(ref.trim());
    return (async () => {
      const credential = await o.logins?.credentialFor(a, registry);
      const info = await on.pullImage(ref.trim(), progress, credential ? { credential } : {});
      await record(a, info);
      return info;
    })();
  }

  return {
    async list(a) {
      const all = await runnerFor(actorOrg(a)).listImages();
      const s = scope(a);
      if (!s) return all;
      const holders = await imageHolders(s.db);
      return all.filter((i) => visibleTo(s.org, i.ref, holders));
    },

    import(a, file, ref, progress) {
      // The daemon resolves paths itself, so a relative path would silently mean its own cwd.
      // Checked synchronously, so these are plain 4xx answers before any stream starts.
      // Import reads any path on the runner's host as root: a tenant's admin must not be able to
      // pull another organisation's files off the host, so only the server's own admins may.
      requirePlatform(a, "admin", "importing an image from a path on the host");
      if (!path.isAbsolute(file)) {
        throw new WarrenError("INVALID_ARGUMENT", `image path "${file}" must be absolute`, { field: "path" });
      }
      const s = scope(a);
      const runner = runnerFor(actorOrg(a));
      // Without --ref the runner names the image from the archive, after it has replaced whatever
      // had that name: another organisation's image could be overwritten before any check. The
      // host's own organisation may still leave it out (it owns what nobody else holds).
      if (s && ref === undefined && s.org !== BOOTSTRAP_ORG_ID) {
        throw new WarrenError("INVALID_ARGUMENT", "name the imported image with --ref REF", { field: "ref" });
      }
      return (async () => {
        if (s && ref !== undefined) {
          // The runner keeps one image per reference: importing over a name another organisation
          // holds (or the bootstrap's, nobody's row) would change what its environments are made from.
          const holders = await imageHolders(s.db);
          const theirs =
            !visibleTo(s.org, ref, holders) && (holders.has(ref) || (await runner.hasImage(ref)));
          if (ref === DEFAULT_IMAGE || theirs) {
            throw new WarrenError(
              "NAME_CONFLICT",
              `the image name "${ref}" is taken on this runner; import under another name (--ref)`,
              { ref },
            );
          }
        }
        const info = await runner.importImage(file, ref, progress);
        await record(a, info);
        return info;
      })();
    },

    ensureBase: (a, mirror, progress) => {
      // Any member may build the base image `warren up` needs; choosing where it comes from
      // decides what every organisation's default environments run.
      const org = actorOrg(a);
      if (mirror) requirePlatform(a, "admin", "choosing the base image's mirror");
      return runnerFor(org).ensureBaseImage(mirror ? { mirror } : {}, progress);
    },

    pull,

    async remove(a, ref) {
      const s = scope(a);
      const runner = runnerFor(actorOrg(a));
      const what = "removing an image";
      if (!s) {
        requireAdmin(a, what);
        const removed = await runner.removeImage(ref).catch((err) => {
          throw isNotFound(err) ? nothingToRemove(ref) : err;
        });
        return { removed };
      }
      const holders = await imageHolders(s.db);
      // Not found before forbidden: another organisation's images do not exist for this caller.
      if (!visibleTo(s.org, ref, holders)) throw nothingToRemove(ref);
      requireAdmin(a, what);
      if (ref === DEFAULT_IMAGE && s.org !== BOOTSTRAP_ORG_ID) {
        throw new WarrenError(
          "INVALID_ARGUMENT",
          `${ref} is the built-in base image, shared by every organisation; only the host's own organisation removes it`,
          { ref },
        );
      }
      const mine = await orgEnvsUsing(s.db, s.org, ref);
      if (mine.length > 0) await inUse(s, ref, mine);
      // Another organisation holds it too: only our name goes, the image stays for them.
      if ([...(holders.get(ref) ?? [])].some((org) => org !== s.org)) {
        await deleteOrgImages(s.db, s.org, [ref]);
        return { removed: [] };
      }
      let removed: string[] = [];
      try {
        removed = await runner.removeImage(ref);
      } catch (err) {
        const code = err instanceof WarrenError ? err.code : undefined;
        if (code === "IMAGE_IN_USE") await inUse(s, ref, []);
        // Evicted from the runner's cache meanwhile: the name is all that is left to remove.
        if (code === "IMAGE_NOT_FOUND" && !holders.get(ref)?.has(s.org)) throw nothingToRemove(ref);
        if (code !== "IMAGE_NOT_FOUND") throw err;
      }
      await deleteOrgImages(s.db, s.org, [ref]);
      return { removed };
    },

    async prune(a) {
      const s = scope(a);
      const runner = runnerFor(actorOrg(a));
      requireAdmin(a, "pruning images");
      if (!s) return runner.pruneImages();
      const holders = await imageHolders(s.db);
      // Keep what the caller cannot see (another organisation's) and the shared base image.
      const keep = (await runner.listImages())
        .map((i) => i.ref)
        .filter((ref) => ref === DEFAULT_IMAGE || !visibleTo(s.org, ref, holders));
      const res = await runner.pruneImages({ keep });
      await deleteOrgImages(s.db, s.org, res.removed);
      return res;
    },

    async ensureForEnv(a, ref, chosen) {
      const s = scope(a);
      const runner = chosen ?? runnerFor(actorOrg(a));
      const onRunner = () => runner.hasImage(ref);
      if (!s || ref === DEFAULT_IMAGE) {
        if (!(await onRunner())) throw imageMissing(ref);
        return;
      }
      const holders = await holdersOf(s.db, ref);
      const held = holders.includes(s.org) || (holders.length === 0 && s.org === BOOTSTRAP_ORG_ID);
      if (held && (await onRunner())) return;
      // Not ours (or evicted): the runner's copy may have come with another organisation's login.
      // Only a pull with this organisation's own login may make it ours; a local name cannot be.
      if (!namesRegistry(ref)) throw held ? imageMissing(ref) : notHeld(ref);
      const info = await pullOn(runner, a, ref, () => {});
      if (info.ref !== ref) {
        throw new WarrenError(
          "IMAGE_NOT_FOUND",
          `image "${ref}" was pulled as "${info.ref}"; create the environment with --image ${info.ref}`,
          { ref, pulled: info.ref },
        );
      }
    },
  };
}
