// The block `warren ssh-config` writes into an OpenSSH client config, and installing it between
// markers (the style of `coder config-ssh`): the block of one Warren context is replaced in place,
// everything else in the file stays byte for byte, and a second run changes nothing. One `Host`
// entry per environment, because OpenSSH 9.2 expands no tokens in `User`.
import {
  chmodSync,
  chownSync,
  mkdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { homedir } from "node:os";
import path from "node:path";
import { WarrenError } from "@warren/protocol";
import type { SshTarget } from "./ssh-target.ts";

/** The suffix that makes `ssh ENV.warren` reach an environment. */
export const HOST_SUFFIX = "warren";

export interface SshHost {
  /** What to type: `ssh dev.warren`. */
  alias: string;
  environment: string;
  hostName: string;
  port: number;
  user: string;
}

export function defaultSshConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(env["HOME"] || homedir(), ".ssh", "config");
}

/** Markers name the context; anything but a plain name character becomes `_`. */
function markers(context: string): { start: string; end: string } {
  const name = context.replace(/[^A-Za-z0-9._:-]/g, "_");
  return {
    start: `# ------------START-WARREN-${name}-----------`,
    end: `# ------------END-WARREN-${name}-----------`,
  };
}

/** A file path as an ssh_config argument: `%` escaped (OpenSSH expands tokens), quoted if needed. */
function configPath(p: string): string {
  if (/["\n\r]/.test(p))
    throw new WarrenError("INVALID_ARGUMENT", `cannot name ${JSON.stringify(p)} in ssh_config`);
  const escaped = p.replace(/%/g, "%%");
  return /\s/.test(escaped) ? `"${escaped}"` : escaped;
}

export function sshHosts(target: SshTarget, envNames: string[]): SshHost[] {
  return [...envNames].sort().map((name) => ({
    alias: `${name}.${HOST_SUFFIX}`,
    environment: name,
    hostName: target.host,
    port: target.port,
    user: name,
  }));
}

/** The whole block, markers included, ending with a newline. */
export function sshConfigBlock(
  target: SshTarget,
  hosts: SshHost[],
  opts: { identity?: string } = {},
): string {
  const { start, end } = markers(target.context);
  const lines = [
    start,
    `# Warren environments of the context "${target.context}", written by \`warren ssh-config\`.`,
    "# Re-run `warren ssh-config --write` after creating environments: each has its own Host entry.",
    "# Edits between these markers are replaced on the next run.",
  ];
  if (hosts.length === 0) lines.push("# (no environments yet)");
  for (const h of hosts) {
    lines.push(
      `Host ${h.alias}`,
      `  HostName ${h.hostName}`,
      `  Port ${h.port}`,
      `  User ${h.user}`,
      `  UserKnownHostsFile ${configPath(target.knownHostsFile)}`,
      "  StrictHostKeyChecking yes",
      "  CheckHostIP no",
      "  UpdateHostKeys no",
    );
    if (opts.identity !== undefined) {
      lines.push(`  IdentityFile ${configPath(path.resolve(opts.identity))}`, "  IdentitiesOnly yes");
    }
  }
  lines.push(end);
  return `${lines.join("\n")}\n`;
}

/** `text` with the context's block replaced in place, or appended after a blank line. */
export function installBlock(text: string, context: string, block: string, file = "the file"): string {
  const { start, end } = markers(context);
  const lines = text.split("\n");
  const i = lines.findIndex((l) => l.trimEnd() === start);
  const j = i < 0 ? -1 : lines.findIndex((l, k) => k > i && l.trimEnd() === end);
  if (i >= 0 && j < 0) {
    throw new WarrenError(
      "INVALID_ARGUMENT",
      `${file} has "${start}" without its END marker; remove the partial block by hand and run again`,
    );
  }
  const blockLines = block.replace(/\n$/, "").split("\n");
  if (i >= 0) return [...lines.slice(0, i), ...blockLines, ...lines.slice(j + 1)].join("\n");
  if (text === "") return block;
  return `${text}${text.endsWith("\n") ? "" : "\n"}\n${block}`;
}

/**
 * Installs the block into `file`. A new file is made 0600 (and a missing directory 0700); an
 * existing one keeps its mode and owner, and is not written at all when nothing changes. A
 * symlink (a dotfiles checkout) is followed, so the link stays a link.
 */
export function writeSshConfig(file: string, context: string, block: string): { changed: boolean } {
  let real = file;
  let old = "";
  let st: { mode: number; uid: number; gid: number } | undefined;
  try {
    real = realpathSync(file);
    old = readFileSync(real, "utf8");
    st = statSync(real);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  const text = installBlock(old, context, block, file);
  if (st !== undefined && text === old) return { changed: false };
  mkdirSync(path.dirname(real), { recursive: true, mode: 0o700 });
  const tmp = `${real}.warren-${process.pid}.tmp`;
  try {
    writeFileSync(tmp, text, { mode: 0o600 });
    chmodSync(tmp, st ? st.mode & 0o7777 : 0o600);
    if (st && process.getuid?.() === 0) chownSync(tmp, st.uid, st.gid);
    renameSync(tmp, real);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
  return { changed: true };
}
