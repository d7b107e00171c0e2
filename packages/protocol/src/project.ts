// A project is a repository, named by its URL. Environments carry one (`warren up --project`)
// and project secrets are keyed by one, so both go through normalizeProject(): one repository
// written several ways must be one project, or its secrets would silently never arrive.
//
// The normal form is an identifier, not a clone URL: `https://HOST[:PORT]/PATH`.
// - Accepted spellings: `https://` and `http://` URLs, `ssh://` and `git://` URLs, scp-like
//   `[user@]host:path` (what `git clone git@github.com:acme/api.git` takes), and a bare
//   `host.tld/path`. All of these for one host and path are the same project:
//     https://github.com/acme/api.git  https://github.com/acme/api/  http://GitHub.com/acme/api
//     git@github.com:acme/api.git      ssh://git@github.com/acme/api  github.com/acme/api
// - The host is case-insensitive (DNS); the path is not, because servers differ (GitHub ignores
//   case, others do not), so `acme/API` and `acme/api` stay two projects.
// - Trailing slashes and one trailing `.git` are dropped; repeated slashes collapse.
// - A user name before `@` is dropped for ssh and scp-like forms (`git@` is the transport's).
//   An http(s) URL with credentials in it is refused: the project is shown to every member.
// - An http(s) port other than the scheme's default is kept (it can be a different server); an
//   ssh or git port is dropped (it names the transport, not the repository).
// - Refused: other schemes (file://, local paths), a query or fragment, `.` or `..` segments,
//   whitespace or control characters, non-ASCII hosts (use the punycode form), and anything
//   longer than MAX_PROJECT_LENGTH.
import { WarrenError } from "./errors.ts";

export const MAX_PROJECT_LENGTH = 1024;

const LABEL = "[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?";
const HOST_RE = new RegExp(`^(?:${LABEL})(?:\\.${LABEL})*$`);
const IPV6_RE = /^\[[0-9a-f:.]+\]$/;
// Unreserved characters, `+` and `@` (seen in real repository paths), and percent-escapes.
const SEGMENT_RE = /^(?:[A-Za-z0-9._~+@-]|%[0-9A-Fa-f]{2})+$/;

function invalid(raw: string, why: string): WarrenError {
  // Credentials in a URL are not repeated back (errors are logged and audited).
  const safe = raw.replace(/^([A-Za-z][A-Za-z0-9+.-]*:\/\/)[^/]*@/, "$1***@");
  const shown = safe.length > 80 ? `${safe.slice(0, 80)}...` : safe;
  return new WarrenError(
    "INVALID_ARGUMENT",
    `invalid project ${JSON.stringify(shown)}: ${why}; give the repository URL, e.g. https://github.com/acme/api or git@github.com:acme/api.git`,
    { field: "project" },
  );
}

interface Parts {
  host: string;
  /** Kept only for http(s), and only when not the default. */
  port?: string;
  path: string;
}

function split(raw: string): Parts {
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/(.*)$/.exec(raw);
  if (scheme) {
    const name = scheme[1]!.toLowerCase();
    if (!["https", "http", "ssh", "git"].includes(name)) {
      throw invalid(raw, `the scheme "${name}" is not a repository host's (use https, http, ssh or git)`);
    }
    const rest = scheme[2]!;
    const slash = rest.indexOf("/");
    const authority = slash < 0 ? rest : rest.slice(0, slash);
    const path = slash < 0 ? "" : rest.slice(slash);
    const at = authority.lastIndexOf("@");
    if (at >= 0 && (name === "https" || name === "http")) {
      throw invalid(raw, "it holds credentials; leave the user and password out of the URL");
    }
    const hostPort = authority.slice(at + 1);
    const m = /^(\[[^\]]*\]|[^:]*)(?::([0-9]{1,5}))?$/.exec(hostPort);
    if (!m) throw invalid(raw, "the host or port is malformed");
    const port = m[2];
    if (port !== undefined && !(Number(port) >= 1 && Number(port) <= 65535)) {
      throw invalid(raw, `the port ${port} is out of range`);
    }
    const web = name === "https" || name === "http";
    const defaultPort = name === "https" ? "443" : "80";
    const keep = web && port !== undefined && String(Number(port)) !== defaultPort;
    return { host: m[1]!, ...(keep ? { port: String(Number(port)) } : {}), path };
  }
  // scp-like: a colon before any slash, as git itself decides (`host:path`, `user@host:path`).
  const colon = raw.indexOf(":");
  const firstSlash = raw.indexOf("/");
  if (colon >= 0 && (firstSlash < 0 || colon < firstSlash)) {
    const authority = raw.slice(0, colon);
    const host = authority.slice(authority.lastIndexOf("@") + 1);
    if (/^(https?|ssh|git|file)$/i.test(authority)) throw invalid(raw, `"${authority}:" needs "//" after it`);
    return { host, path: `/${raw.slice(colon + 1)}` };
  }
  // Bare `host.tld/path`: only when the first segment looks like a domain, so a relative local
  // path (`repos/api`) is refused rather than read as a host.
  if (firstSlash > 0 && raw.slice(0, firstSlash).includes(".")) {
    return { host: raw.slice(0, firstSlash), path: raw.slice(firstSlash) };
  }
  throw invalid(raw, "it is not a URL (no scheme, no host)");
}

/**
 * The one normal form of a repository URL (see the top of this file for what counts as equal).
 * Throws INVALID_ARGUMENT with `details.field = "project"`.
 */
export function normalizeProject(raw: string): string {
  if (typeof raw !== "string" || raw.length === 0) throw invalid(String(raw), "it is empty");
  if (raw.length > MAX_PROJECT_LENGTH) {
    throw invalid(raw, `it is longer than ${MAX_PROJECT_LENGTH} characters`);
  }
  if (/[\s\u0000-\u001f\u007f]/.test(raw)) throw invalid(raw, "it holds whitespace or control characters");
  if (/[^\u0020-\u007e]/.test(raw)) {
    throw invalid(raw, "it holds non-ASCII characters (give the host in punycode and escape the path)");
  }
  if (/[?#]/.test(raw)) throw invalid(raw, "it has a query or fragment");
  const parts = split(raw);
  const host = parts.host.toLowerCase();
  if (!(HOST_RE.test(host) || IPV6_RE.test(host))) throw invalid(raw, `"${parts.host}" is not a host name`);
  const segments = parts.path.split("/").filter((s) => s !== "");
  const last = segments.at(-1);
  if (last && last.length > 4 && last.toLowerCase().endsWith(".git")) {
    segments[segments.length - 1] = last.slice(0, -4);
  }
  if (segments.length === 0) throw invalid(raw, "it names a host but no repository path");
  for (const s of segments) {
    if (s === "." || s === ".." || !SEGMENT_RE.test(s)) {
      throw invalid(raw, `the path segment "${s}" is not allowed`);
    }
  }
  const path = segments.map((s) => s.replace(/%[0-9a-f]{2}/gi, (e) => e.toUpperCase())).join("/");
  return `https://${host}${parts.port ? `:${parts.port}` : ""}/${path}`;
}
