// Where the SSH gateway of the current context is, and the host key OpenSSH must pin for it.
// Shared by `warren ssh` and `warren ssh-config`. The key comes over the API, which is already
// trusted (root on the local socket, or TLS pinned by `warren login`), so writing it into a
// known_hosts file that Warren manages carries that trust over to OpenSSH: no trust-on-first-use.
//
// Everything the server sends that ends up in an OpenSSH file or argument is checked first: a
// hostile server must not be able to add a line (`@cert-authority *`, `ProxyCommand`) to them.
import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import { type ApiClient, isWarrenError, NAME_RE, type SshGatewayInfo, WarrenError } from "@warren/protocol";
import { contextsPath, currentContext, LOCAL_CONTEXT } from "./contexts.ts";

export interface SshTarget {
  /** The Warren context it belongs to ("local" for this host's socket). */
  context: string;
  /** Where OpenSSH connects: a host name or IP address, never in brackets. */
  host: string;
  port: number;
  /** "ssh-ed25519 AAAA...". */
  hostKey: string;
  fingerprint: string;
  /** The known_hosts file Warren manages, holding hostKey for host:port. */
  knownHostsFile: string;
}

const HOST_KEY_RE = /^(ssh-ed25519|ecdsa-sha2-nistp(256|384|521)|ssh-rsa) [A-Za-z0-9+/]+={0,2}$/;
const HOST_RE = /^[A-Za-z0-9._:-]+$/;
const ORG_RE = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;
const WILDCARDS = new Set(["", "0.0.0.0", "::", "[::]", "*"]);

/** The known_hosts file Warren manages, beside the contexts file (~/.config/warren/ssh/known_hosts). */
export function knownHostsPath(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(path.dirname(contextsPath(env)), "ssh", "known_hosts");
}

/** How OpenSSH names host:port in known_hosts: the bare host for port 22, else `[host]:port`. */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

/** The SSH user for an environment: `ENV`, or `ENV.ORG` when the name alone is ambiguous. */
export function checkSshUser(user: string): string {
  const [env, org, ...rest] = user.split(".");
  if (!env || !NAME_RE.test(env) || rest.length > 0 || (org !== undefined && !ORG_RE.test(org))) {
    throw new WarrenError(
      "INVALID_ARGUMENT",
      `"${user}" is not an environment: give its name as \`warren ls\` shows it, or NAME.ORG`,
    );
  }
  return user;
}

/** Checks the gateway's answer; a line that is not a plain public key is refused. */
function checkGateway(info: SshGatewayInfo): void {
  const port = info.port;
  if (!Number.isInteger(port) || port < 1 || port > 65535 || !HOST_KEY_RE.test(info.hostKey ?? "")) {
    throw new WarrenError(
      "INVALID_ARGUMENT",
      "the server described its SSH gateway with a malformed port or host key; refusing to use it",
    );
  }
}

function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127\./.test(host);
}

/**
 * Where to connect. Local socket: the gateway's own address, or 127.0.0.1 for a wildcard.
 * Remote context: the host name the CLI reaches the API by, which the gateway's wildcard covers.
 */
export function gatewayHost(info: SshGatewayInfo, remoteUrl?: string): string {
  const listen = info.host.replace(/^\[(.*)\]$/, "$1");
  let host: string;
  if (remoteUrl === undefined) host = WILDCARDS.has(listen) ? "127.0.0.1" : listen;
  else {
    host = new URL(remoteUrl).hostname.replace(/^\[(.*)\]$/, "$1");
    if (isLoopback(listen) && !isLoopback(host)) {
      throw new WarrenError(
        "INVALID_ARGUMENT",
        `the server's SSH gateway listens on ${listen} only, which this machine cannot reach; ` +
          "an admin makes it reachable with `--ssh-listen 0.0.0.0:2222` (or WARREN_SSH_LISTEN)",
      );
    }
  }
  if (!HOST_RE.test(host)) {
    throw new WarrenError("INVALID_ARGUMENT", `the SSH gateway's address "${host}" is not a host name`);
  }
  return host;
}

/** The current context's gateway, its host key pinned in the managed known_hosts file. */
export async function resolveSshTarget(
  client: ApiClient,
  env: NodeJS.ProcessEnv = process.env,
): Promise<SshTarget> {
  const explicitSocket = env["WARREN_SOCKET"] !== undefined && !env["WARREN_CONTEXT"];
  const remote = explicitSocket ? undefined : currentContext(env);
  let info: SshGatewayInfo;
  try {
    info = await client.sshGateway();
  } catch (err) {
    if (isWarrenError(err, "NOT_FOUND")) {
      throw new WarrenError(
        "NOT_FOUND",
        "this server has no SSH gateway (it is older than this CLI); upgrade it to use `warren ssh`",
      );
    }
    throw err;
  }
  if (!info.listening) {
    throw new WarrenError(
      "INVALID_ARGUMENT",
      "the server's SSH gateway is off; an admin turns it on with `warren daemon --ssh-listen 127.0.0.1:2222` " +
        "(or `warren server --ssh-listen HOST:PORT`, or WARREN_SSH_LISTEN)",
    );
  }
  checkGateway(info);
  const host = gatewayHost(info, remote?.ctx.url);
  const knownHostsFile = knownHostsPath(env);
  pinHostKey(knownHostsFile, host, info.port, info.hostKey);
  return {
    context: remote?.name ?? LOCAL_CONTEXT,
    host,
    port: info.port,
    hostKey: info.hostKey,
    fingerprint: info.fingerprint,
    knownHostsFile,
  };
}

/**
 * Makes `file` hold exactly one entry for host:port, with hostKey; other entries stay. Written
 * atomically (0600, directory 0700), and not at all when it already says so.
 */
export function pinHostKey(file: string, host: string, port: number, hostKey: string): void {
  if (!HOST_KEY_RE.test(hostKey)) throw new WarrenError("INVALID_ARGUMENT", "malformed SSH host key");
  const name = knownHostsName(host, port);
  let old = "";
  try {
    old = readFileSync(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  const kept = old.split("\n").filter((l) => l !== "" && l.split(" ")[0] !== name);
  const text = `${[...kept, `${name} ${hostKey}`].join("\n")}\n`;
  if (text === old) return;
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
}
