// The secrets tests' world: a harness with the secret and registry-login services behind one
// app. Shared by secrets.test.ts and secrets-projects.test.ts.
import type { Harness } from "@warren/testing/server-harness";
import { harness } from "@warren/testing/server-harness";
import type { FastifyInstance } from "fastify";
import { systemClock } from "../src/clock.ts";
import { build } from "../src/http/build.ts";
import type { Caller } from "../src/services/identity.ts";
import { createImageService } from "../src/services/images.ts";
import { createRegistryLoginService } from "../src/services/registry-logins.ts";
import { secretBox } from "../src/services/registry-secrets.ts";
import { createSecretService } from "../src/services/secrets.ts";
import { BOOTSTRAP_ORG_ID } from "../src/store/migrations/005_identity.ts";

let h: Harness | undefined;
let app: FastifyInstance | undefined;

/** For afterEach: closes the app and the harness of the last setup(). */
export async function closeWorld(): Promise<void> {
  await app?.close();
  await h?.close();
  app = h = undefined;
}
export const ORG_VALUE = "org-value-7c1f9a2e-plaintext";
export const FILE_VALUE = "file-value-0b44d1aa-plaintext";
export const LOGIN_PASSWORD = "registry-pass-55aa0e1c";

export const member = (userId: string): Caller => ({
  kind: "user",
  userId,
  orgId: BOOTSTRAP_ORG_ID,
  role: "member",
  via: "token",
});

export async function setup() {
  h = await harness();
  const registryBox = secretBox(h.dir);
  const secrets = createSecretService({ db: h.store.db, clock: systemClock, root: h.dir, registryBox });
  const registries = createRegistryLoginService({ db: h.store.db, clock: systemClock, secrets: registryBox });
  app = build({
    envs: h.envs,
    classes: h.classes,
    images: createImageService({ runner: h.runner, logins: registries }),
    registries,
    runner: h.runner,
    secrets,
    db: h.store.db, // paged, filtered lists (?project=)
    logger: false,
  });
  return { h, app, secrets, registries };
}

export async function put(a: FastifyInstance, scope: string, name: string, payload: Record<string, unknown>) {
  return a.inject({ method: "PUT", url: `/api/v1/secrets/${scope}/${name}`, payload });
}
