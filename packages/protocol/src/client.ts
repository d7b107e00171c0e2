// The typed API client: implements ApiClient (api.ts) over HTTP. The CLI talks to the daemon only
// through this. Transport details (unix socket, TCP+TLS) live in client-transport.ts.
import type { IncomingMessage } from "node:http";
import type { Readable } from "node:stream";
import type { ApiClient, IdentityClient, RegistryLogin } from "./api.ts";
import type { AutomationsClient } from "./automations.ts";
import { openExec } from "./client-exec.ts";
import { type UnavailableHook, withRetries } from "./client-retry.ts";
import { setupMethods } from "./client-setup.ts";
import {
  connectionError,
  errorFromResponse,
  type Transport,
  unixTransport,
  withToken,
} from "./client-transport.ts";
import { readWatchStream, watchPath } from "./client-watch.ts";
import type { ClassSpec, DnsStats, Environment, EnvStats, ImageInfo } from "./env.ts";
import { type ErrorBody, isWarrenError, WarrenError } from "./errors.ts";
import { fleetMethods } from "./fleet.ts";
import type { Member, TokenInfo } from "./identity.ts";
import { API_PREFIX } from "./paths.ts";
import { poolMethods } from "./pools.ts";
import { prebuildMethods } from "./prebuilds.ts";
import type { ProgressEvent, ProgressFn } from "./runner.ts";
import type { SecretInfo } from "./secrets.ts";
import type { SshKey } from "./ssh-keys.ts";
import { usageMethods } from "./usage.ts";
import type { EnvPage } from "./watch.ts";

export type { Transport } from "./client-transport.ts";
export { parseServerUrl, type TlsTransportOptions, tlsTransport, unixTransport } from "./client-transport.ts";

export type ClientOptions = ({ socketPath: string } | { transport: Transport }) & {
  /** A Warren token (wrn_...), sent as `Authorization: Bearer`; root on the local socket needs none. */
  token?: string;
  /**
   * Called when the daemon cannot be reached or cuts a request off; resolve true (once it answers
   * again) to send the request again where that is safe (client-retry.ts). Without it, no retry.
   */
  onUnavailable?: UnavailableHook;
};

export function createClient(opts: ClientOptions): ApiClient {
  const base = "transport" in opts ? opts.transport : unixTransport(opts.socketPath);
  const transport = opts.token ? withToken(base, opts.token) : base;
  const http = new Http(transport, opts.onUnavailable);
  const env = (name: string) => `/environments/${encodeURIComponent(name)}`;
  return {
    health: () => http.json("GET", "/health"),
    runnerInfo: () => http.json("GET", "/runner"),
    async listEnvironments(q) {
      // Follows cursors, so callers still get every environment; an older daemon sends one page.
      const items: Environment[] = [];
      let cursor: string | undefined;
      do {
        const params = new URLSearchParams();
        if (q?.state) params.set("state", q.state);
        if (q?.name) params.set("name", q.name);
        if (q?.project) params.set("project", q.project);
        if (cursor) params.set("cursor", cursor);
        const page = await http.json<EnvPage>("GET", `/environments${params.size ? `?${params}` : ""}`);
        items.push(...page.items);
        cursor = page.nextCursor;
      } while (cursor);
      return items;
    },
    async watchEnvironments(opts, onEvent) {
      await readWatchStream(await http.open("GET", watchPath(opts)), onEvent, opts.signal);
    },
    async createEnvironment(req, o) {
      // Named, a create is idempotent (the same name and spec again is that environment), so a
      // retry after a cut connection finds what the first attempt made. Unnamed, a retry could
      // make a second one: the CLI names environments itself for that reason.
      const { status, body } = await http.call<Environment>("POST", "/environments?wait=1", req, {
        idempotent: req.name !== undefined,
        onAttempt: (n) => {
          if (n > 0) o?.onRetry?.();
        },
      });
      return { env: body, created: status === 201 };
    },
    getEnvironment: (name) => http.json("GET", env(name)),
    // Intents: asking twice for the same desired state is the same as asking once.
    startEnvironment: (name) => http.json("POST", `${env(name)}/start`, {}, { idempotent: true }),
    stopEnvironment: (name, graceSeconds) =>
      http.json("POST", `${env(name)}/stop`, graceSeconds === undefined ? {} : { graceSeconds }, {
        idempotent: true,
      }),
    async deleteEnvironment(name, force) {
      let attempts = 0;
      try {
        await http.call("DELETE", `${env(name)}${force ? "?force=1" : ""}`, undefined, {
          onAttempt: (n) => {
            attempts = n + 1;
          },
        });
      } catch (err) {
        // A retry after a cut: the first attempt finished the removal.
        if (attempts > 1 && isWarrenError(err, "ENV_NOT_FOUND")) return;
        throw err;
      }
    },
    setEnvironment: (name, req) => http.json("PATCH", env(name), req),
    environmentStats: (name) => http.json("GET", `${env(name)}/stats`),
    stats: async () => (await http.json<{ items: EnvStats[] }>("GET", "/stats")).items,
    async logs(name, opts, onData) {
      const q = new URLSearchParams();
      if (opts.follow) q.set("follow", "1");
      if (opts.tail !== undefined) q.set("tail", String(opts.tail));
      const res = await http.open("GET", `${env(name)}/logs?${q}`);
      res.setEncoding("utf8");
      await new Promise<void>((resolve, reject) => {
        // Aborted while the request was opening: the listener below would never fire.
        if (opts.signal?.aborted) {
          res.destroy();
          resolve();
          return;
        }
        opts.signal?.addEventListener("abort", () => {
          res.destroy();
          resolve();
        });
        res.on("data", (chunk: string) => onData(chunk));
        res.on("end", resolve);
        res.on("error", (err) => reject(connectionError(err, transport)));
      });
    },
    exec: (name, req, handlers) => openExec(transport, `${API_PREFIX}${env(name)}/exec`, req, handlers),
    listClasses: async () => (await http.json<{ items: ClassSpec[] }>("GET", "/classes")).items,
    createClass: (req) => http.json("POST", "/classes", req),
    async deleteClass(name) {
      await http.call("DELETE", `/classes/${encodeURIComponent(name)}`);
    },
    listImages: async () => (await http.json<{ items: ImageInfo[] }>("GET", "/images")).items,
    importImage: (path, ref, progress) =>
      http.ndjson("/images/import", ref === undefined ? { path } : { path, ref }, progress),
    ensureBaseImage: (mirror, progress) =>
      http.ndjson("/images/base", mirror === undefined ? {} : { mirror }, progress),
    pullImage: (ref, progress) => http.ndjson("/images/pull", { ref }, progress),
    removeImage: (ref) => http.json("DELETE", `/images/${encodeURIComponent(ref)}`),
    pruneImages: () => http.json("POST", "/images/prune"),
    listRegistryLogins: async () => (await http.json<{ items: RegistryLogin[] }>("GET", "/registries")).items,
    registryLogin: (host, username, password) =>
      http.json("PUT", `/registries/${encodeURIComponent(host)}`, { username, password }),
    registryLogout: (host) => http.json("DELETE", `/registries/${encodeURIComponent(host)}`),
    dnsStats: () => http.json<DnsStats>("GET", "/dns/stats"),
    setSecret: (scope, name, req) =>
      http.json("PUT", `/secrets/${encodeURIComponent(scope)}/${encodeURIComponent(name)}`, req),
    listSecrets: async () => (await http.json<{ items: SecretInfo[] }>("GET", "/secrets")).items,
    removeSecret: (scope, name, project) =>
      http.json(
        "DELETE",
        `/secrets/${encodeURIComponent(scope)}/${encodeURIComponent(name)}${project ? `?project=${encodeURIComponent(project)}` : ""}`,
      ),
    rotateKey: () => http.json("POST", "/admin/rotate-key", {}),
    listEnvPorts: (name) => http.json("GET", `${env(name)}/ports`),
    // Setting a visibility twice is the same as once, so a retry after a cut is safe.
    setEnvPort: (name, port, req) =>
      http.json("PUT", `${env(name)}/ports/${port}`, req, { idempotent: true }),
    portSigninLink: (name, port) => http.json("POST", `${env(name)}/ports/${port}/signin-link`, {}),
    addSshKey: (req) => http.json("POST", "/ssh-keys", req),
    sshGateway: () => http.json("GET", "/ssh/gateway"),
    listSshKeys: async (q) =>
      (await http.json<{ items: SshKey[] }>("GET", `/ssh-keys${q?.all ? "?all=1" : ""}`)).items,
    async removeSshKey(id) {
      await http.call("DELETE", `/ssh-keys/${encodeURIComponent(id)}`);
    },
    getUserGit: () => http.json("GET", "/user/git"),
    setUserGit: (req) => http.json("PUT", "/user/git", req),
    ...identityMethods(http),
    ...automationMethods(http, env),
    ...setupMethods(http, env),
    ...prebuildMethods(http),
    ...poolMethods(http),
    ...usageMethods(http),
    ...fleetMethods(http),
  };
}

function automationMethods(http: Http, env: (name: string) => string): AutomationsClient {
  const unit = (name: string, kind: "services" | "tasks", unitName: string) =>
    `${env(name)}/${kind}/${encodeURIComponent(unitName)}`;
  const text = async (path: string, tail: number | undefined) =>
    readAll(await http.open("GET", tail === undefined ? path : `${path}?tail=${tail}`));
  return {
    listServices: (name) => http.json("GET", `${env(name)}/services`),
    // Starting, stopping or restarting twice ends in the same state, so a retry is safe.
    serviceAction: (name, service, action) =>
      http.json("POST", `${unit(name, "services", service)}/${action}`, {}, { idempotent: true }),
    serviceLogs: (name, service, o) => text(`${unit(name, "services", service)}/logs`, o?.tail),
    listTasks: (name) => http.json("GET", `${env(name)}/tasks`),
    runTask: (name, task) => http.json("POST", `${unit(name, "tasks", task)}/run`, {}),
    taskLogs: (name, task, o) => text(`${unit(name, "tasks", task)}/logs`, o?.tail),
  };
}

function identityMethods(http: Http): IdentityClient {
  const members = (org: string) => `/orgs/${encodeURIComponent(org)}/members`;
  const quotas = (org: string) => `/orgs/${encodeURIComponent(org)}/quotas`;
  return {
    whoami: () => http.json("GET", "/whoami"),
    createToken: (req) => http.json("POST", "/tokens", req),
    listTokens: async () => (await http.json<{ items: TokenInfo[] }>("GET", "/tokens")).items,
    async revokeToken(id) {
      await http.call("DELETE", `/tokens/${encodeURIComponent(id)}`);
    },
    createRunnerToken: (req) => http.json("POST", "/admin/runner-tokens", req),
    deviceCode: () => http.json("POST", "/auth/device", {}),
    dashboardLink: () => http.json("POST", "/auth/dashboard/link", {}),
    deviceToken: (deviceCode) => http.json("POST", "/auth/device/token", { device_code: deviceCode }),
    listMembers: async (org) => (await http.json<{ items: Member[] }>("GET", members(org))).items,
    addMember: (org, req) => http.json("POST", members(org), req),
    async removeMember(org, user) {
      await http.call("DELETE", `${members(org)}/${encodeURIComponent(user)}`);
    },
    listAudit(q) {
      const params = new URLSearchParams();
      for (const [k, v] of Object.entries(q)) if (v !== undefined) params.set(k, String(v));
      return http.json("GET", `/audit${params.size ? `?${params}` : ""}`);
    },
    getQuotas: (org) => http.json("GET", quotas(org)),
    setQuotas: (org, req) => http.json("PUT", quotas(org), req),
  };
}

interface CallOptions {
  /** Safe to send again after a cut connection; default: every method but POST, or POST with a key. */
  idempotent?: boolean;
  /** Sent as Idempotency-Key (the same on every attempt). */
  key?: string;
  onAttempt?: (attempt: number) => void;
}

class Http {
  readonly transport: Transport;
  readonly hook: UnavailableHook | undefined;
  constructor(transport: Transport, hook?: UnavailableHook) {
    this.transport = transport;
    this.hook = hook;
  }

  retrying<T>(method: string, path: string, o: CallOptions, once: () => Promise<T>): Promise<T> {
    const idempotent = o.idempotent ?? (method !== "POST" || o.key !== undefined);
    return withRetries({ method, path, idempotent }, this.hook, (attempt) => {
      o.onAttempt?.(attempt);
      return once();
    });
  }

  /** Sends a request and resolves with the response once its status is 2xx; otherwise rejects typed. */
  open(method: string, path: string, body?: unknown, key?: string): Promise<IncomingMessage> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const headers: Record<string, string> = { accept: "application/json" };
    if (key !== undefined) headers["idempotency-key"] = key;
    if (payload) {
      headers["content-type"] = "application/json";
      headers["content-length"] = String(payload.length);
    }
    return new Promise((resolve, reject) => {
      const req = this.transport.request({ method, path: API_PREFIX + path, headers }, (res) => {
        const status = res.statusCode ?? 0;
        if (status >= 200 && status < 300) return resolve(res);
        readAll(res).then(
          (text) => reject(errorFromResponse(method, path, status, text)),
          (err) => reject(connectionError(err, this.transport)),
        );
      });
      req.on("error", (err) => reject(connectionError(err, this.transport)));
      req.end(payload);
    });
  }

  /** A streamed body (a directory's tar): sent once, never retried (the stream cannot be replayed). */
  stream<T>(method: string, path: string, body: Readable, contentType: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const req = this.transport.request(
        {
          method,
          path: API_PREFIX + path,
          headers: { accept: "application/json", "content-type": contentType },
        },
        (res) => {
          const status = res.statusCode ?? 0;
          readAll(res).then(
            (text) => {
              if (status >= 200 && status < 300) resolve(JSON.parse(text) as T);
              else reject(errorFromResponse(method, path, status, text));
            },
            (err) => reject(connectionError(err, this.transport)),
          );
        },
      );
      req.on("error", (err) => reject(connectionError(err, this.transport)));
      body.on("error", (err) => req.destroy(err));
      body.pipe(req);
    });
  }

  call<T>(
    method: string,
    path: string,
    body?: unknown,
    o: CallOptions = {},
  ): Promise<{ status: number; body: T }> {
    return this.retrying(method, path, o, () => this.callOnce<T>(method, path, body, o.key));
  }

  async callOnce<T>(
    method: string,
    path: string,
    body: unknown,
    key: string | undefined,
  ): Promise<{ status: number; body: T }> {
    const res = await this.open(method, path, body, key);
    const text = await readAll(res).catch((err) => {
      throw connectionError(err, this.transport);
    });
    if (res.statusCode === 204 || text === "") return { status: res.statusCode ?? 0, body: undefined as T };
    try {
      return { status: res.statusCode ?? 0, body: JSON.parse(text) as T };
    } catch {
      throw new WarrenError(
        "INTERNAL",
        `${method} ${path}: the daemon sent invalid JSON: ${text.slice(0, 200)}`,
      );
    }
  }

  async json<T>(method: string, path: string, body?: unknown, o: CallOptions = {}): Promise<T> {
    return (await this.call<T>(method, path, body, o)).body;
  }

  /**
   * POST that answers with ProgressEvent lines and a final { done } or { error } line. Every such
   * call (import, pull, base image) ends in the same image when repeated, so a cut one is retried.
   */
  ndjson(path: string, body: unknown, progress: ProgressFn): Promise<ImageInfo> {
    return this.retrying("POST", path, { idempotent: true }, () => this.ndjsonOnce(path, body, progress));
  }

  async ndjsonOnce(path: string, body: unknown, progress: ProgressFn): Promise<ImageInfo> {
    const res = await this.open("POST", path, body);
    res.setEncoding("utf8");
    return new Promise<ImageInfo>((resolve, reject) => {
      let buf = "";
      let settled = false;
      const settle = (err: Error | null, info?: ImageInfo) => {
        if (settled) return;
        settled = true;
        if (err) {
          reject(err);
          res.destroy();
        } else resolve(info!);
      };
      const line = (text: string) => {
        if (text.trim() === "" || settled) return;
        let msg: { done?: ImageInfo; error?: ErrorBody } & Partial<ProgressEvent>;
        try {
          msg = JSON.parse(text);
        } catch {
          return settle(
            new WarrenError("INTERNAL", `POST ${path}: invalid progress line: ${text.slice(0, 200)}`),
          );
        }
        if (msg.error) return settle(WarrenError.fromBody(msg.error));
        if (msg.done) return settle(null, msg.done);
        // A throwing progress callback is a caller bug; surface it rather than hang the stream.
        try {
          progress(msg as ProgressEvent);
        } catch (err) {
          settle(err as Error);
        }
      };
      res.on("data", (chunk: string) => {
        buf += chunk;
        for (let i = buf.indexOf("\n"); i >= 0; i = buf.indexOf("\n")) {
          line(buf.slice(0, i));
          buf = buf.slice(i + 1);
        }
      });
      res.on("end", () => {
        line(buf);
        settle(
          new WarrenError("DAEMON_UNAVAILABLE", `POST ${path}: the daemon ended the stream without a result`),
        );
      });
      res.on("error", (err) => settle(connectionError(err, this.transport)));
    });
  }
}

function readAll(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on("data", (c: Buffer) => chunks.push(c));
    res.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    res.on("error", reject);
  });
}
