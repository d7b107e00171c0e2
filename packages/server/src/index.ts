// The control plane's public surface: runDaemon (what `warren daemon`/`warren server` run), build()
// and the services it is wired from (an in-process control plane around any RunnerApi, as the
// shared harness in @warren/testing composes one), the store and its migrations. The CLI's `up`
// uses the separate entry `@warren/server/names` so it never loads fastify.
export { type Clock, systemClock } from "./clock.ts";
export {
  createEnvironmentController,
  type EnvironmentController,
} from "./controllers/environment/controller.ts";
export { type Daemon, type DaemonOptions, runDaemon } from "./daemon.ts";
export { type BuildOptions, build } from "./http/build.ts";
export { listenUnix } from "./http/listen.ts";
export { generateSelfSigned } from "./http/tls-cert.ts";
export { silentLogger } from "./logger.ts";
export { placeEnvironment } from "./scheduler/place.ts";
export type { PlacementRequest, RunnerSnapshot } from "./scheduler/types.ts";
export { type SystemActor, system } from "./services/actor.ts";
export { createAuditService } from "./services/audit.ts";
export { type ChangeFeed, createChangeFeed } from "./services/changes.ts";
export { type ClassService, createClassService } from "./services/classes.ts";
export { createEnvironmentService, type EnvironmentService } from "./services/environments.ts";
export { type Caller, createIdentityService, LOCAL_ROOT } from "./services/identity.ts";
export { createImageService } from "./services/images.ts";
export { createQuotaService } from "./services/quotas.ts";
export { createRegistryLoginService } from "./services/registry-logins.ts";
export { secretBox } from "./services/registry-secrets.ts";
export { createSecretService } from "./services/secrets.ts";
export { createSshKeyService } from "./services/ssh-keys.ts";
export { openStore, type Store } from "./store/db.ts";
export { migratePg } from "./store/migrate-pg.ts";
