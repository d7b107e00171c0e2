// Warren's half: the real `warren` CLI against the bench's own isolated daemon (e2e harness),
// each call timed from the CLI's start to its exit, as a developer waits for it.
import path from "node:path";
import { type Harness, REPO } from "@warren/testing/e2e-harness";
import { check, type Run, timed } from "./reference.ts";

const MAIN = path.join(REPO, "packages/cli/src/main.ts");

export interface WarrenSide {
  cli(args: string[]): Promise<Run>;
  /** `warren up --repo URL --name NAME [--devcontainer C] -- true`: to a ready shell in one call. */
  upRepo(url: string, name: string, config?: string): Promise<Run>;
  /** Stopped environment to a ready shell: `warren up --name NAME --repo URL -- true` again. */
  upAgain(url: string, name: string, config?: string): Promise<Run>;
  /** The same without the repository: `warren up --name NAME -- true`. */
  upByName(name: string): Promise<Run>;
  /** The same, the long way: `warren start NAME`, then `warren exec NAME -- true`. */
  startThenExec(name: string): Promise<{ ms: number; runs: Run[] }>;
  stop(name: string): Promise<void>;
  rm(name: string): Promise<void>;
  /** Where the time went: seconds from `sinceMs` to the first and last log line of each step. */
  steps(name: string, sinceMs: number): Promise<{ steps: StepTimes[]; lines: string[] }>;
}

export interface StepTimes {
  step: string;
  firstS: number;
  lastS: number;
}

export function warrenSide(h: Harness): WarrenSide {
  const cli = (args: string[]) => timed(process.execPath, [MAIN, ...args], h.env);
  const up = (url: string, name: string, config?: string) =>
    cli(["up", "--repo", url, "--name", name, ...(config ? ["--devcontainer", config] : []), "--", "true"]);
  return {
    cli,
    upRepo: up,
    upAgain: up,
    upByName: (name) => cli(["up", "--name", name, "--", "true"]),
    async startThenExec(name) {
      const start = check(await cli(["start", name]));
      const exec = check(await cli(["exec", name, "--", "true"]));
      return { ms: start.ms + exec.ms, runs: [start, exec] };
    },
    async stop(name) {
      check(await cli(["stop", name]));
    },
    async rm(name) {
      check(await cli(["rm", "-f", name]));
    },
    async steps(name, sinceMs) {
      const r = await cli(["logs", "--json", name]);
      const out = new Map<string, StepTimes>();
      const lines: string[] = [];
      for (const l of r.stdout.split("\n").filter(Boolean)) {
        const e = JSON.parse(l) as { time: string | null; line: string };
        const at = e.time ? (Date.parse(e.time) - sinceMs) / 1000 : Number.NaN;
        lines.push(`${at.toFixed(2)} ${e.line}`);
        const step = /^\[([a-zA-Z]+)\]/.exec(e.line)?.[1];
        if (!step || !e.time) continue;
        const s = out.get(step);
        if (s) s.lastS = at;
        else out.set(step, { step, firstS: at, lastS: at });
      }
      return { steps: [...out.values()], lines };
    },
  };
}
