// Where the base image's packages come from: the host's own Debian mirror (the one it can reach
// and already trusts), read from apt's one-line `.list` files and deb822 `.sources` files.
import fs from "node:fs/promises";
import path from "node:path";
import { WarrenError } from "@warren/protocol";

export interface AptEntry {
  types: string[];
  uris: string[];
  suites: string[];
  components: string[];
}

export interface DebianSources {
  mirror: string;
  security: string;
  /** Full `deb URI SUITE COMPONENTS` lines for mmdebstrap; they become the image's sources. */
  lines: string[];
}

export const SUITE = "bookworm";

/** Parses one-line format: `deb [opts] URI SUITE COMPONENT...`. */
export function parseListFile(text: string): AptEntry[] {
  const out: AptEntry[] = [];
  for (const raw of text.split("\n")) {
    const line = raw
      .replace(/#.*/, "")
      .replace(/\[[^\]]*\]/, " ")
      .trim();
    const [type, uri, suite, ...components] = line.split(/\s+/);
    if (!type || !uri || !suite) continue;
    out.push({ types: [type], uris: [uri], suites: [suite], components });
  }
  return out;
}

/** Parses deb822 format: stanzas separated by blank lines, `Key: value` fields. */
export function parseSourcesFile(text: string): AptEntry[] {
  const out: AptEntry[] = [];
  for (const stanza of text.split(/\n\s*\n/)) {
    const fields: Record<string, string> = {};
    let key = "";
    for (const raw of stanza.split("\n")) {
      if (raw.startsWith("#")) continue;
      if (/^\s/.test(raw) && key) fields[key] += ` ${raw.trim()}`;
      else {
        const m = /^([A-Za-z0-9-]+):\s*(.*)$/.exec(raw);
        if (!m) continue;
        key = m[1]!.toLowerCase();
        fields[key] = m[2]!;
      }
    }
    if (fields["enabled"]?.trim().toLowerCase() === "no") continue;
    const words = (k: string) => (fields[k] ?? "").split(/\s+/).filter(Boolean);
    if (words("uris").length === 0) continue;
    out.push({
      types: words("types"),
      uris: words("uris"),
      suites: words("suites"),
      components: words("components"),
    });
  }
  return out;
}

export async function readHostAptSources(aptDir = "/etc/apt"): Promise<AptEntry[]> {
  const entries: AptEntry[] = [];
  const list = await fs.readFile(path.join(aptDir, "sources.list"), "utf8").catch(() => "");
  entries.push(...parseListFile(list));
  const dDir = path.join(aptDir, "sources.list.d");
  const names = (await fs.readdir(dDir).catch(() => [] as string[])).sort();
  for (const name of names) {
    const text = await fs.readFile(path.join(dDir, name), "utf8").catch(() => "");
    if (name.endsWith(".list")) entries.push(...parseListFile(text));
    else if (name.endsWith(".sources")) entries.push(...parseSourcesFile(text));
  }
  return entries;
}

function findUri(entries: AptEntry[], suite: string): string | undefined {
  const e = entries.find((x) => x.types.includes("deb") && x.suites.includes(suite) && x.uris.length > 0);
  return e?.uris[0]?.replace(/\/+$/, "");
}

/** `http://deb.debian.org/debian` -> `http://deb.debian.org/debian-security`. */
export function securitySibling(mirror: string): string {
  const u = new URL(mirror);
  const parts = u.pathname.replace(/\/+$/, "").split("/");
  parts[parts.length - 1] = "debian-security";
  u.pathname = parts.join("/") || "/debian-security";
  return u.toString().replace(/\/+$/, "");
}

/**
 * The mirror serving bookworm from the main archive (or `override`), and the security archive:
 * the host's own when it uses the host mirror, else the mirror's `debian-security` sibling.
 */
export function resolveDebianSources(entries: AptEntry[], override?: string): DebianSources {
  const hostMirror = findUri(entries, SUITE);
  const mirror = override?.replace(/\/+$/, "") ?? hostMirror;
  if (!mirror) {
    throw new WarrenError(
      "INVALID_ARGUMENT",
      `no Debian mirror for ${SUITE} in /etc/apt/sources.list(.d); pass one, e.g. --mirror http://deb.debian.org/debian`,
    );
  }
  if (!/^(https?|file):\/\//.test(mirror)) {
    throw new WarrenError("INVALID_ARGUMENT", `mirror "${mirror}" must be an http(s):// or file:// URL`);
  }
  const hostSecurity = findUri(entries, `${SUITE}-security`) ?? findUri(entries, `${SUITE}/updates`);
  const security = override === undefined && hostSecurity ? hostSecurity : securitySibling(mirror);
  return {
    mirror,
    security,
    lines: [
      `deb ${mirror} ${SUITE} main`,
      `deb ${mirror} ${SUITE}-updates main`,
      `deb ${security} ${SUITE}-security main`,
    ],
  };
}
