// The process.json given to `<runtime> exec --process`: an OCI process object built from the
// runtime-neutral ExecProcess.
import { writeFile } from "node:fs/promises";
import { HELPER_OOM_SCORE_ADJ } from "../spec/process.ts";
import type { OciProcess } from "../spec/types.ts";
import type { ExecProcess } from "./types.ts";

export function ociProcessFromExec(p: ExecProcess): OciProcess {
  // Like Docker: a non-root user starts with no effective or permitted capabilities (sudo
  // regains them through the setuid bit); the bounding set caps what it can ever get.
  const root = p.uid === 0;
  return {
    terminal: p.tty,
    user: { uid: p.uid, gid: p.gid },
    args: [...p.args],
    env: [...p.env],
    cwd: p.cwd,
    capabilities: {
      bounding: [...p.capabilities],
      effective: root ? [...p.capabilities] : [],
      permitted: root ? [...p.capabilities] : [],
      inheritable: [],
      ambient: [],
    },
    rlimits: p.rlimits.map((l) => ({ ...l })),
    noNewPrivileges: false,
    // Always explicit: otherwise the process inherits the runtime's score, which is the runner's.
    oomScoreAdj: p.oomScoreAdj ?? HELPER_OOM_SCORE_ADJ,
  };
}

export async function writeProcessFile(file: string, p: ExecProcess): Promise<void> {
  await writeFile(file, JSON.stringify(ociProcessFromExec(p)), { mode: 0o600 });
}
