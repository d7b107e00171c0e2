// What configure reads from the repository, in one exec inside the environment (each exec costs a
// runtime round trip): the devcontainer.json candidates in the spec's order, the first one (or
// the one asked for), and .warren/automations.yaml. Each file is framed by its size, so its bytes
// cannot be mistaken for the framing; a file over the cap is reported, not sent.
import type { RunnerExec } from "@warren/protocol";
import { WarrenError } from "@warren/protocol";
import { execRun } from "./exec-run.ts";

export const MAX_REPO_FILE_BYTES = 1024 * 1024;

// $1 the repository root, $2 the configuration asked for ("" = the first candidate), $3 the cap.
const SCRIPT = `cd "$1" || exit 3
first=""
for f in .devcontainer/devcontainer.json .devcontainer.json .devcontainer/*/devcontainer.json; do
  if [ -f "$f" ]; then printf 'C %s\\n' "$f"; [ -n "$first" ] || first="$f"; fi
done
emit() {
  if [ -f "$1" ]; then
    n=$(wc -c < "$1")
    if [ "$n" -gt "$3" ]; then printf 'B %s\\n' "$2"; else printf 'F %s %s\\n' "$2" "$n"; cat -- "$1"; fi
  else printf 'M %s\\n' "$2"; fi
}
cfg="$2"; [ -n "$cfg" ] || cfg="$first"
[ -n "$cfg" ] && emit "$cfg" config "$3"
emit .warren/automations.yaml automations "$3"
exit 0`;

export interface RepoFiles {
  candidates: string[];
  /** The configuration read: its path (relative to the root) and text; absent when there is none. */
  config?: { file: string; text: string };
  /** The path asked for (or the first candidate) exists but is over the cap. */
  configTooBig?: boolean;
  automations?: string;
  automationsTooBig?: boolean;
}

export async function readRepoFiles(
  runner: RunnerExec,
  envId: string,
  user: string,
  root: string,
  asked: string | undefined,
): Promise<RepoFiles> {
  const r = await execRun(
    runner,
    envId,
    { cmd: ["/bin/sh", "-c", SCRIPT, "sh", root, asked ?? "", String(MAX_REPO_FILE_BYTES)], user },
    { keepStdout: 2 * MAX_REPO_FILE_BYTES + 128 * 1024, timeoutMs: 30_000 },
  );
  if (r.exitCode === 3)
    throw new WarrenError(
      "INVALID_ARGUMENT",
      `the repository folder ${root} is missing; run \`warren rebuild\` to clone it again`,
    );
  if (r.exitCode !== 0 || r.truncated)
    throw new WarrenError("INTERNAL", `reading the repository's configuration failed (exit ${r.exitCode})`);
  const out: RepoFiles = { candidates: [] };
  const buf = r.stdout;
  let at = 0;
  const line = (): string | undefined => {
    const nl = buf.indexOf(10, at);
    if (nl < 0) return undefined;
    const l = buf.subarray(at, nl).toString("utf8");
    at = nl + 1;
    return l;
  };
  for (let l = line(); l !== undefined; l = line()) {
    const [kind, rest] = [l.slice(0, 1), l.slice(2)];
    if (kind === "C") out.candidates.push(rest);
    else if (kind === "B") {
      if (rest === "config") out.configTooBig = true;
      else out.automationsTooBig = true;
    } else if (kind === "F") {
      const m = /^(config|automations) (\d+)$/.exec(rest);
      if (!m) break;
      const n = Number(m[2]);
      const text = buf.subarray(at, at + n).toString("utf8");
      at += n;
      if (m[1] === "config") out.config = { file: asked ?? out.candidates[0] ?? "", text };
      else out.automations = text;
    }
  }
  return out;
}
