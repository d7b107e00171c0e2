// Registry image references, parsed the way Docker does: [host[:port]/]repo[:tag][@sha256:hex].
// It lives in protocol because the CLI (deciding whether `up --image` should pull) and the runner
// (pulling) must agree on what a reference means and on its canonical spelling.
import { WarrenError } from "./errors.ts";

export interface ImageRef {
  /** Registry host as written, with port when given ("127.0.0.1:5000", "docker.io"). */
  registry: string;
  /** Repository path inside the registry ("library/debian"). */
  repository: string;
  tag: string | undefined;
  /** "sha256:<64 hex>" when the reference pins a manifest. */
  digest: string | undefined;
  /** Canonical form: registry/repository[:tag][@digest], with tag "latest" when neither is given. */
  canonical: string;
}

export const DOCKER_HUB = "docker.io";
const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const DIGEST = /^sha256:[a-f0-9]{64}$/;
const HOST = /^(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)(?::[0-9]{1,5})?$/;

/**
 * True when the first path component names a registry host (has a dot or a port, or is
 * "localhost"), as Docker decides it. `warren up --image` pulls only such references, so a
 * local name like "myorg/tools:1.0" never silently turns into a Docker Hub request.
 */
export function namesRegistry(ref: string): boolean {
  const slash = ref.indexOf("/");
  if (slash < 0) return false;
  const first = ref.slice(0, slash);
  return first === "localhost" || first.includes(".") || first.includes(":") || first.startsWith("[");
}

export function parseImageRef(input: string): ImageRef {
  const bad = (why: string) =>
    new WarrenError(
      "INVALID_ARGUMENT",
      `invalid image reference "${input}": ${why} (use HOST[:PORT]/REPO[:TAG] or HOST/REPO@sha256:DIGEST)`,
      { ref: input },
    );
  if (input.length === 0 || input.length > 255) throw bad("it must be 1 to 255 characters");
  let rest = input;
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw bad("the digest must be sha256: and 64 lowercase hex digits");
  }
  let registry = DOCKER_HUB;
  const slash = rest.indexOf("/");
  if (namesRegistry(rest)) {
    registry = rest.slice(0, slash);
    rest = rest.slice(slash + 1);
    if (!HOST.test(registry)) throw bad(`"${registry}" is not a valid registry host`);
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(":");
  if (colon >= 0) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw bad(`"${tag}" is not a valid tag`);
  }
  if (registry === "index.docker.io") registry = DOCKER_HUB;
  // Docker Hub's official images live under library/.
  if (registry === DOCKER_HUB && !rest.includes("/")) rest = `library/${rest}`;
  if (rest.length === 0 || !rest.split("/").every((c) => COMPONENT.test(c))) {
    throw bad("the repository must be lowercase path components of letters, digits and . _ -");
  }
  if (tag === undefined && digest === undefined) tag = "latest";
  const canonical = `${registry}/${rest}${tag !== undefined ? `:${tag}` : ""}${digest ? `@${digest}` : ""}`;
  return { registry, repository: rest, tag, digest, canonical };
}

/** A registry host as logins are keyed: lowercase, Docker Hub's aliases folded into docker.io. */
export function normalizeRegistryHost(input: string): string {
  const host = input
    .trim()
    .replace(/^https?:\/\//, "")
    .replace(/\/+$/, "")
    .toLowerCase();
  if (!HOST.test(host)) {
    throw new WarrenError("INVALID_ARGUMENT", `"${input}" is not a registry host (use HOST or HOST:PORT)`, {
      host: input,
    });
  }
  return host === "index.docker.io" || host === "registry-1.docker.io" ? DOCKER_HUB : host;
}
