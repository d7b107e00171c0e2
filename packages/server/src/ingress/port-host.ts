// Port URLs: which environment port a Host header names, and the URL of a port.
//
// Two forms, each one DNS label under the base domain:
//   <port>--<env>--<org>.<base-domain>   what people read and type
//   <port>--<env-id>.<base-domain>       the 12-character id: for names containing `--` (allowed
//                                        before the rule that forbids it) and for labels that
//                                        would pass DNS's 63-byte limit
// Everything the proxy routes on comes from here, so parsing is strict: lowercase only, one
// label, no leading zeros, no empty parts. Anything else is a malformed Host (400), never a guess.

/** DNS's limit on one label (RFC 1035 2.3.4). */
export const MAX_LABEL_BYTES = 63;

const ENV_ID_RE = /^[a-z0-9]{12}$/;
/** A name part of the label: what NAME_RE allows, which is also a valid DNS label. */
const PART_RE = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;
const PORT_RE = /^[1-9][0-9]{0,4}$/;
/** A base domain: one or more lowercase DNS labels (e.g. `localhost`, `apps.example.com`). */
const DOMAIN_RE = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

export type PortHost = { port: number; env: string; org?: string } | { error: 400 | 404; message: string };

const FORMS = "<port>--<environment>--<organisation>.BASE or <port>--<environment-id>.BASE";

function malformed(why: string, baseDomain: string): { error: 400; message: string } {
  return {
    error: 400,
    message: `malformed Host header: ${why}; port URLs look like ${FORMS.replaceAll("BASE", baseDomain)}`,
  };
}

/**
 * The environment port a Host header names. `host` is the header as sent (it may carry `:port`);
 * `baseDomain` is lowercase without a trailing dot.
 */
export function parsePortHost(host: string, baseDomain: string): PortHost {
  const m = /^([^:]*)(?::([0-9]{1,5}))?$/.exec(host);
  if (!m || m[1] === undefined) return malformed("expected HOST or HOST:PORT", baseDomain);
  const name = m[1];
  if (name !== name.toLowerCase()) return malformed("use lowercase", baseDomain);
  if (!DOMAIN_RE.test(name)) return malformed("not a DNS name", baseDomain);
  const suffix = `.${baseDomain}`;
  if (!name.endsWith(suffix)) {
    return { error: 404, message: `${name} is not a port URL: port URLs live under ${baseDomain}` };
  }
  const label = name.slice(0, -suffix.length);
  if (label.includes(".")) return malformed("a port URL is one label under the base domain", baseDomain);
  if (Buffer.byteLength(label) > MAX_LABEL_BYTES) {
    return malformed(`the label is longer than ${MAX_LABEL_BYTES} bytes`, baseDomain);
  }
  const sep = label.indexOf("--");
  if (sep < 0) return malformed("no `--` after the port", baseDomain);
  const portText = label.slice(0, sep);
  const port = Number(portText);
  if (!PORT_RE.test(portText) || port > 65535) {
    return malformed(`port ${JSON.stringify(portText)} is not a number from 1 to 65535`, baseDomain);
  }
  const rest = label.slice(sep + 2);
  const split = rest.indexOf("--");
  if (split < 0) {
    if (!ENV_ID_RE.test(rest)) {
      return malformed(
        `${JSON.stringify(rest)} is neither <environment>--<organisation> nor a 12-character environment id`,
        baseDomain,
      );
    }
    return { port, env: rest };
  }
  // Names made after the `--` rule cannot contain it, so the first `--` ends the environment's name.
  const env = rest.slice(0, split);
  const org = rest.slice(split + 2);
  if (!PART_RE.test(env) || !PART_RE.test(org)) {
    return malformed(
      "the environment and organisation must be lowercase letters, digits and single dashes",
      baseDomain,
    );
  }
  return { port, env, org };
}

export interface PortUrlOptions {
  scheme: "http" | "https";
  port: number;
  envName: string;
  envId: string;
  orgName: string;
  baseDomain: string;
  /** The proxy's own listening port; left out of the URL when it is the scheme's default. */
  listenPort?: number;
}

/** Whether a name can stand in the readable form: a DNS label part without `--`. */
export function fitsPortLabel(name: string): boolean {
  return PART_RE.test(name) && !name.includes("--");
}

/** The URL of an environment port: the readable form where it fits in one label, else the id form. */
export function portUrl(o: PortUrlOptions): string {
  const readable = `${o.port}--${o.envName}--${o.orgName}`;
  const label =
    fitsPortLabel(o.envName) && fitsPortLabel(o.orgName) && Buffer.byteLength(readable) <= MAX_LABEL_BYTES
      ? readable
      : `${o.port}--${o.envId}`;
  const defaultPort = o.scheme === "https" ? 443 : 80;
  const at = o.listenPort === undefined || o.listenPort === defaultPort ? "" : `:${o.listenPort}`;
  return `${o.scheme}://${label}.${o.baseDomain}${at}/`;
}

/** Checks an operator's --base-domain; returns it normalised (lowercase, no trailing dot). */
export function normaliseBaseDomain(domain: string): string {
  const d = domain.trim().toLowerCase().replace(/\.$/, "");
  if (!DOMAIN_RE.test(d)) {
    throw new Error(
      `invalid base domain ${JSON.stringify(domain)}: expected a DNS name such as localhost or apps.example.com`,
    );
  }
  return d;
}
