// The HTTP API under /api/v1, as a typed contract. The server implements these routes and
// `client.ts` calls them; the CLI uses only the client.
//
//   GET    /api/v1/health                          -> { ok: true, version }
//   GET    /api/v1/runner                          -> RunnerInfo
//   GET    /api/v1/environments?limit=&cursor=&state=&name=&project= -> { items: Environment[], nextCursor? } (watch.ts)
//   GET    /api/v1/environments?watch=1&resourceVersion=N -> text/event-stream of WatchEvent (watch.ts)
//   Any POST may carry Idempotency-Key (Stripe semantics, 24 h); limits: 1 MiB bodies (413),
//   JSON depth 32 (400), per-token and per-IP rates (429 + Retry-After).
//   POST   /api/v1/environments  CreateEnvRequest  -> 201 Environment (new) | 200 Environment (same spec exists; started if needed)
//          ?wait=1 waits until state is running or failed (default 1)
//   GET    /api/v1/environments/:name              -> Environment (with `observed`, incl. pid, uid range, cgroups, PSI)
//   POST   /api/v1/environments/:name/start        -> Environment (waits)
//   POST   /api/v1/environments/:name/stop         -> Environment (waits)   body { graceSeconds?: number }
//   DELETE /api/v1/environments/:name?force=1      -> 204 (waits until every host object is gone)
//   PATCH  /api/v1/environments/:name  SetResourcesRequest -> Environment (recorded, then applied live if running;
//          a refused change, e.g. memory below use, leaves both the kernel and the record unchanged)
//   GET    /api/v1/environments/:name/stats        -> EnvStats (ENV_NOT_RUNNING unless running)
//   GET    /api/v1/stats                           -> { items: EnvStats[] } (every running environment)
//   GET    /api/v1/usage?since=&until=&by=user|project|class|org -> UsageReport (usage.ts; members: their own, admins: the organisation)
//   GET    /api/v1/environments/:name/logs?follow=1&tail=N -> text/plain stream
//   GET    /api/v1/environments/:name/exec?cmd=JSON&tty=1&cols=&rows= -> WebSocket (exec-stream.ts)
//   GET    /api/v1/environments/:name/port-forward?port=N&host=IP -> WebSocket, one per TCP connection
//          (port-forward-stream.ts); refusals (DIAL_FAILED...) are HTTP errors before the upgrade
//   GET    /api/v1/classes                         -> { items: ClassSpec[] }
//   POST   /api/v1/classes       CreateClassRequest -> 201 ClassSpec
//   DELETE /api/v1/classes/:name                   -> 204
//   GET    /api/v1/images                          -> { items: ImageInfo[] } (the organisation's, plus the shared base image)
//   POST   /api/v1/images/base   { mirror? }         -> NDJSON progress like import; builds the default image if missing
//   POST   /api/v1/images/import { path, ref? }    -> application/x-ndjson stream of ProgressEvent lines, then
//                                                    a final line { done: ImageInfo } or { error: ErrorBody }
//   DELETE /api/v1/images/:ref (url-encoded)       -> { removed: string[] } (layers freed); 409 IMAGE_IN_USE names the environments
//   POST   /api/v1/images/prune                    -> { removed: string[], freedBytes } (unused images past the cache cap, then unreferenced layers)
//   GET    /api/v1/dns/stats                       -> DnsStats (the runner's DNS cache and upstream counters)
//   POST   /api/v1/images/pull   { ref }           -> NDJSON progress like import; pulls from a registry with
//                                                    the organisation's stored login for the ref's registry host
//   GET    /api/v1/registries                      -> { items: RegistryLogin[] } (the organisation's hosts and usernames, never passwords)
//   PUT    /api/v1/registries/:host { username, password } -> RegistryLogin (stored encrypted)
//   DELETE /api/v1/registries/:host                -> { removed: boolean }
//   GET    /api/v1/secrets                         -> { items: SecretInfo[] } (names, scopes, kinds; never values)
//   PUT    /api/v1/secrets/:scope/:name { value, kind, path?, project? } -> SecretInfo (stored encrypted)
//   DELETE /api/v1/secrets/:scope/:name ?project=URL -> { removed: boolean }
//   POST   /api/v1/admin/rotate-key                -> { secrets, registryLogins } (owners)
//   GET    /api/v1/ssh-keys?all=1              -> { items: SshKey[] } (own keys; all=1: every member's, admins)
//   POST   /api/v1/ssh-keys { publicKey, name? } -> 201 SshKey (ed25519, ECDSA, RSA >= 3072; ssh-keys.ts)
//   DELETE /api/v1/ssh-keys/:id                -> 204 (own keys; admins: any member's; its SSH sessions end)
//   GET    /api/v1/ssh/gateway                 -> SshGatewayInfo { listening, host, port, hostKey, fingerprint }
//   GET    /api/v1/http/proxy                  -> HttpProxyInfo { listening, host, port, baseDomain, scheme }
//   GET    /api/v1/environments/:name/ports    -> EnvPortList { items: EnvPort[], running, publicPorts } (ports.ts:
//                                                listening ports detected in the environment, merged with stored visibility)
//   PUT    /api/v1/environments/:name/ports/:port { visibility } -> EnvPort (private | org | public; public only
//                                                where the organisation allows it, else 403 PUBLIC_PORTS_DENIED)
//   POST   /api/v1/environments/:name/ports/:port/signin-link -> { url, expiresAt } (`warren port open`: a one-time link, 60 s, one use)
//   GET    /api/v1/environments/:name/services    -> ServiceList { items: ServiceStatus[], running } (automations.ts)
//   POST   /api/v1/environments/:name/services/:service/start -> ServiceStatus (also .../stop, .../restart)
//   POST   /api/v1/environments/:name/services/:service/stop -> ServiceStatus
//   POST   /api/v1/environments/:name/services/:service/restart -> ServiceStatus
//   GET    /api/v1/environments/:name/services/:service/logs?tail=N -> text/plain (its last lines)
//   GET    /api/v1/environments/:name/tasks       -> TaskList { items: TaskStatus[], running }
//   POST   /api/v1/environments/:name/tasks/:task/run -> TaskStatus (once the task has finished)
//   GET    /api/v1/environments/:name/tasks/:task/logs?tail=N -> text/plain
//   GET    /api/v1/user/git                        -> UserGit (the caller's git name, email and dotfiles)
//   PUT    /api/v1/user/git { gitName?, gitEmail?, dotfiles? } -> UserGit (null or "" clears a field)
//   PUT    /api/v1/uploads (application/x-tar)      -> { id, sizeBytes } (a directory for `up --repo DIR`; kept an hour)
//   POST   /api/v1/environments/:name/rebuild      -> Environment (configure, build, restart, create-time hooks again)
//   POST   /api/v1/environments/:name/hooks/:hook  -> { hook, exitCode } (runs one lifecycle hook and waits for it)
//   POST   /api/v1/prebuilds { repo, branch?, every?, devcontainerPath? } -> Prebuild (admins; starts a run)
//   GET    /api/v1/prebuilds                       -> { items: Prebuild[] }
//   DELETE /api/v1/prebuilds?repo=ID|URL&branch=B  -> {} (admins; the prebuild and its disk template)
//   GET    /api/v1/pools                           -> { items: WarmPool[] } (admins; the organisation's pools)
//   POST   /api/v1/pools { image, className?, min, max, schedule? } -> WarmPool (admins; creates or replaces)
//   DELETE /api/v1/pools?image=&class=            -> { removed } (admins; its unclaimed members go)
//   POST   /api/v1/prebuilds/webhook { repo, branch? } -> Prebuild (a push: runs that prebuild again)
//   GET    /metrics                                -> Prometheus text: control plane (operators) and the caller's organisation's environments
//   GET    /metrics/runners                        -> Prometheus text: per-environment samples from the runners (org-filtered)
//   GET    /api/v1/openapi.json                    -> the OpenAPI 3.1 document of these routes (server http/openapi.ts)
//   GET    /api/v1/whoami                          -> Whoami (user, org, role, how it authenticated)
//   POST   /api/v1/tokens { name, expiresInDays?, scopes? } -> 201 CreatedToken { id, token (shown once), expiresAt }
//   GET    /api/v1/tokens                          -> { items: TokenInfo[] } (own tokens; admins also runner tokens; no secrets)
//   DELETE /api/v1/tokens/:id                      -> 204 (revoked; the next call with it gets 401)
//   POST   /api/v1/admin/runner-tokens { name, expiresInDays? } -> 201 CreatedToken (wrn_r_...; admins)
//   GET    /api/v1/orgs/:org/members               -> { items: Member[] } (owners)
//   POST   /api/v1/orgs/:org/members { name, role } -> 201 Member (creates the user if new; owners)
//   DELETE /api/v1/orgs/:org/members/:user         -> 204 (owners; an org keeps at least one owner)
//   GET    /api/v1/audit?actor=&action=&since=&until=&limit=&cursor= -> AuditPage (admins; own organisation)
//   GET    /api/v1/orgs/:org/quotas                -> QuotaView (quotas and current usage; admins)
//   PUT    /api/v1/orgs/:org/quotas SetQuotasRequest -> QuotaView (null clears a quota; admins)
//   GET    /api/v1/fleet/runners                   -> FleetList (the organisation's runners and autoscaler; admins)
//   POST   /api/v1/fleet/runners/:name/cordon      -> FleetActionResult (no new environments on it; admins)
//   POST   /api/v1/fleet/runners/:name/uncordon    -> FleetActionResult (takes new environments again; admins)
//   POST   /api/v1/fleet/runners/:name/drain       -> FleetActionResult (cordoned, running environments stopped; admins)
//   GET    /api/v1/auth/oidc/start                -> 302 to the identity provider (PKCE S256, state, nonce; a cookie
//                                                    binds the sign-in to this browser; public); ?user_code= -> 302 to verify
//   GET    /api/v1/auth/oidc/callback?code=&state= -> SignIn { token (wrn_..., shown once), expiresAt, user, org, role }
//                                                    (JSON with Accept: application/json, else an HTML page; public)
//   POST   /api/v1/auth/device {}                  -> DeviceCode { device_code, user_code, verification_uri, interval, expires_in }
//   POST   /api/v1/auth/device/token { device_code } -> { status: authorization_pending | slow_down, interval }
//                                                    | { status: complete, token, expiresAt } (public)
//   GET    /api/v1/auth/device/verify?user_code=   -> HTML page asking for the code, or confirming it (code, client,
//                                                    requesting address); &confirm= (with the page's cookie) -> 302 to sign in
//   GET    /api/v1/auth/port-signin?env=&port=    -> 302 to the identity provider; its callback then 302s to that port
//                                                    URL's one-time /__warren/auth?code= link (no token; public)
//   POST   /api/v1/auth/dashboard/session { token } -> { csrf, user, org, role } + the warren_session cookie (dashboard host)
//   GET    /api/v1/auth/dashboard/session      -> { csrf, user, org, role, via } for the cookie's session, else 401
//                                                    (details.oidc: true when the dashboard offers OIDC sign-in)
//   GET    /api/v1/auth/dashboard/oidc         -> 302 to the identity provider; its callback then 302s to the
//                                                    dashboard's one-time /auth/redeem?code= link (no token; public)
//   POST   /api/v1/auth/dashboard/signout      -> 204, the session ended and its cookie cleared
//   POST   /api/v1/auth/dashboard/link         -> { url, expiresAt } (`warren dashboard`: one-time link, 60 s, one use)
//   GET    /api/runner/v1/ping                     -> { ok: true } (runner tokens only)
// Auth: root on the local unix socket acts as the bootstrap owner; anything else sends
// `Authorization: Bearer wrn_...`. Another organisation's ids get 404, never 403.
// Errors: every non-2xx response body is an ErrorBody { code, message, details }.

import type { AuditPage, AuditQuery, QuotaView, SetQuotasRequest } from "./audit.ts";
import type { AutomationsClient } from "./automations.ts";
import type { SetupClient } from "./client-setup.ts";
import type { WatchOptions } from "./client-watch.ts";
import type {
  ClassSpec,
  CreateClassRequest,
  CreateEnvRequest,
  DnsStats,
  Environment,
  EnvState,
  EnvStats,
  ImageInfo,
  SetResourcesRequest,
} from "./env.ts";
import type { ExecNotices } from "./exec-stream.ts";
import type { FleetClient } from "./fleet.ts";
import type {
  AddMemberRequest,
  CreatedToken,
  CreateTokenRequest,
  Member,
  TokenInfo,
  Whoami,
} from "./identity.ts";
import type { PoolClient } from "./pools.ts";
import type { PortClient } from "./ports.ts";
import type { PrebuildClient } from "./prebuilds.ts";
import type { ExecHandlers, ExecRequest, ExecSession, ProgressFn, RunnerInfo } from "./runner.ts";
import type { PutSecretRequest, SecretInfo, SecretScope } from "./secrets.ts";
import type { SshKeyClient } from "./ssh-keys.ts";
import type { UsageClient } from "./usage.ts";
import type { UserGitClient } from "./user-git.ts";
import type { WatchEvent } from "./watch.ts";

/** A stored registry login as the API shows it: the password is never returned. */
export interface RegistryLogin {
  host: string;
  username: string;
  createdAt: string;
  updatedAt: string;
}

/** Identity and access (identity.ts); part of ApiClient. */
export interface IdentityClient {
  whoami(): Promise<Whoami>;
  /** The response carries the token's secret; it is never shown again. */
  createToken(req: CreateTokenRequest): Promise<CreatedToken>;
  listTokens(): Promise<TokenInfo[]>;
  revokeToken(id: string): Promise<void>;
  createRunnerToken(req: CreateTokenRequest): Promise<CreatedToken>;
  listMembers(org: string): Promise<Member[]>;
  addMember(org: string, req: AddMemberRequest): Promise<Member>;
  removeMember(org: string, user: string): Promise<void>;
  /** One page of the caller's organisation's audit trail, newest first (admins). */
  listAudit(q: AuditQuery): Promise<AuditPage>;
  getQuotas(org: string): Promise<QuotaView>;
  setQuotas(org: string, req: SetQuotasRequest): Promise<QuotaView>;
  /** Starts Warren's device-code sign-in (POST /auth/device; public). */
  deviceCode?(): Promise<DeviceCode>;
  /** Polls a device code (POST /auth/device/token; public). */
  deviceToken?(deviceCode: string): Promise<DeviceTokenResult>;
  /** `warren dashboard`: a one-time sign-in link for the dashboard (60 s, one use). */
  dashboardLink?(): Promise<{ url: string; expiresAt: string }>;
}

export interface DeviceCode {
  device_code: string;
  user_code: string;
  verification_uri: string;
  verification_uri_complete: string;
  interval: number;
  expires_in: number;
}

export type DeviceTokenResult =
  | { status: "authorization_pending" | "slow_down"; interval: number }
  | { status: "complete"; token: string; expiresAt: string };

export interface ApiClient
  extends IdentityClient,
    SshKeyClient,
    PortClient,
    UserGitClient,
    AutomationsClient,
    SetupClient,
    PrebuildClient,
    PoolClient,
    UsageClient,
    FleetClient {
  health(): Promise<{ ok: true; version: string }>;
  runnerInfo(): Promise<RunnerInfo>;
  /** Every environment (following pages), optionally filtered by state, name prefix or project. */
  listEnvironments(filter?: { state?: EnvState; name?: string; project?: string }): Promise<Environment[]>;
  /** Streams environment changes until the stream ends or `signal` aborts (watch.ts). */
  watchEnvironments(opts: WatchOptions, onEvent: (e: WatchEvent) => void): Promise<void>;
  /** `onRetry`: the request was sent again after the daemon cut it off (a restart). */
  createEnvironment(
    req: CreateEnvRequest,
    opts?: { onRetry?: () => void },
  ): Promise<{ env: Environment; created: boolean }>;
  getEnvironment(name: string): Promise<Environment>;
  startEnvironment(name: string): Promise<Environment>;
  stopEnvironment(name: string, graceSeconds?: number): Promise<Environment>;
  deleteEnvironment(name: string, force: boolean): Promise<void>;
  setEnvironment(name: string, req: SetResourcesRequest): Promise<Environment>;
  environmentStats(name: string): Promise<EnvStats>;
  stats(): Promise<EnvStats[]>;
  logs(
    name: string,
    opts: { follow: boolean; tail?: number; signal?: AbortSignal },
    onData: (chunk: string) => void,
  ): Promise<void>;
  /** Resolves with the session once the stream is open; handlers.exit fires with the command's status. */
  exec(name: string, req: ExecRequest, handlers: ExecHandlers & ExecNotices): Promise<ExecSession>;
  listClasses(): Promise<ClassSpec[]>;
  createClass(req: CreateClassRequest): Promise<ClassSpec>;
  deleteClass(name: string): Promise<void>;
  listImages(): Promise<ImageInfo[]>;
  importImage(path: string, ref: string | undefined, progress: ProgressFn): Promise<ImageInfo>;
  ensureBaseImage(mirror: string | undefined, progress: ProgressFn): Promise<ImageInfo>;
  removeImage(ref: string): Promise<{ removed: string[] }>;
  pruneImages(): Promise<{ removed: string[]; freedBytes: number }>;
  pullImage(ref: string, progress: ProgressFn): Promise<ImageInfo>;
  listRegistryLogins(): Promise<RegistryLogin[]>;
  registryLogin(host: string, username: string, password: string): Promise<RegistryLogin>;
  registryLogout(host: string): Promise<{ removed: boolean }>;
  /** Secrets (secrets.ts): write-only values; the list shows names, scopes and kinds. */
  setSecret(scope: SecretScope, name: string, req: PutSecretRequest): Promise<SecretInfo>;
  listSecrets(): Promise<SecretInfo[]>;
  removeSecret(scope: SecretScope, name: string, project?: string): Promise<{ removed: boolean }>;
  /** Re-encrypts every secret and registry login under new keys (owners). */
  rotateKey(): Promise<{ secrets: number; registryLogins: number }>;
  dnsStats(): Promise<DnsStats>;
}
