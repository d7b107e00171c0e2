// The runner may run protected from the OOM killer (`OOMScoreAdjust=-1000` in warren.service), and
// every child inherits that score. Work done for users, such as a Dockerfile build's RUN steps, must
// not: on a host short of memory it would be the runner's neighbours that die instead. Raising a
// score needs no privilege, so such children start through util-linux's `choom -n 0`; lowering one
// would need CAP_SYS_RESOURCE, so a runner at 0 or above runs them unchanged.
import { readFileSync } from "node:fs";

let own: number | undefined;

function ownScore(): number {
  if (own === undefined) {
    const n = Number.parseInt(readFileSync("/proc/self/oom_score_adj", "utf8"), 10);
    own = Number.isFinite(n) ? n : 0;
  }
  return own;
}

/** The command and arguments that start `cmd` at score 0 when the runner itself is below 0. */
export function unprotected(cmd: string, args: readonly string[], score = ownScore()): [string, string[]] {
  return score < 0 ? ["choom", ["-n", "0", "--", cmd, ...args]] : [cmd, [...args]];
}
