// warren top [--runner R] [--sort cpu|mem|psi] [--once] [--json]: a live, full-screen table of
// environments and runners, refreshed every 2 s, like htop and kubectl top. The screen is the
// terminal's alternate screen with the cursor hidden; both are restored however it ends (q, ^C,
// SIGTERM, an error). --once prints one snapshot (two samples a second apart, for network rates).
import { setTimeout as sleep } from "node:timers/promises";
import { type ApiClient, WarrenError } from "@warren/protocol";
import { connect } from "../connect.ts";
import { printJson } from "../format.ts";
import {
  sortRows,
  TOP_SORTS,
  type TopSample,
  type TopSnapshot,
  type TopSort,
  topSnapshot,
} from "./top-model.ts";
import { renderTop } from "./top-render.ts";

export const TOP_REFRESH_MS = 2000;
const ENTER = "\x1b[?1049h\x1b[?25l";
const LEAVE = "\x1b[?25h\x1b[?1049l";
const KEYS: Record<string, TopSort> = { c: "cpu", m: "mem", p: "psi" };

export interface TopOptions {
  runner?: string;
  sort?: string;
  once?: boolean;
  json?: boolean;
}

function checkSort(s: string | undefined): TopSort {
  if (s === undefined) return "cpu";
  if ((TOP_SORTS as readonly string[]).includes(s)) return s as TopSort;
  throw new WarrenError(
    "INVALID_ARGUMENT",
    `--sort ${JSON.stringify(s)}: expected one of ${TOP_SORTS.join(", ")}`,
  );
}

async function sample(client: ApiClient, runner: string | undefined): Promise<TopSample> {
  const [envs, stats, info] = await Promise.all([
    client.listEnvironments(),
    client.stats(),
    client.runnerInfo(),
  ]);
  if (runner !== undefined && runner !== info.id && runner !== info.hostname) {
    throw new WarrenError(
      "INVALID_ARGUMENT",
      `--runner ${runner}: this organisation's environments run on ${info.id} (${info.hostname}); pass that or leave --runner out`,
    );
  }
  return { at: Date.now(), envs, stats, runner: info };
}

export async function topCommand(opts: TopOptions): Promise<number> {
  const sort = checkSort(opts.sort);
  const client = await connect();
  if (opts.once || opts.json) {
    const first = await sample(client, opts.runner);
    await sleep(1000);
    const snap = topSnapshot(await sample(client, opts.runner), first, sort);
    if (opts.json) printJson(snap);
    else process.stdout.write(`${renderTop(snap, { width: Infinity, height: Infinity }).join("\n")}\n`);
    return 0;
  }
  if (!process.stdout.isTTY) {
    throw new WarrenError(
      "INVALID_ARGUMENT",
      "warren top needs a terminal; in scripts use `warren top --once --json`",
    );
  }
  return live(client, opts.runner, sort);
}

async function live(client: ApiClient, runner: string | undefined, initialSort: TopSort): Promise<number> {
  const out = process.stdout;
  const stdin = process.stdin;
  let sort = initialSort;
  let prev: TopSample | undefined;
  let last: TopSnapshot | undefined;
  let done = false;
  let wake: (() => void) | undefined;
  const stop = () => {
    done = true;
    wake?.();
  };
  const draw = () => {
    if (!last) return;
    const lines = renderTop(last, { width: out.columns || 80, height: out.rows || 24 });
    out.write(`\x1b[H${lines.map((l) => `${l}\x1b[K`).join("\n")}\x1b[J`);
  };
  const onKey = (b: Buffer) => {
    const k = b.toString();
    if (k === "q" || k === "\x03") return stop();
    const s = KEYS[k];
    if (!s) return;
    sort = s;
    if (last) last = { ...last, sort, environments: sortRows(last.environments, s) };
    draw();
  };
  const restore = () => {
    if (stdin.isTTY) stdin.setRawMode(false);
    stdin.off("data", onKey);
    stdin.pause();
    out.write(LEAVE);
  };
  // Exit paths that skip `finally` (an uncaught fault elsewhere) still give the terminal back.
  process.once("exit", restore);
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  out.on("resize", draw);
  out.write(ENTER);
  if (stdin.isTTY) stdin.setRawMode(true);
  stdin.on("data", onKey);
  stdin.resume();
  try {
    while (!done) {
      const started = Date.now();
      const cur = await sample(client, runner);
      last = topSnapshot(cur, prev, sort);
      prev = cur;
      if (done) break;
      draw();
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, Math.max(0, TOP_REFRESH_MS - (Date.now() - started)));
      });
    }
  } finally {
    process.off("exit", restore);
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
    out.off("resize", draw);
    restore();
  }
  return 0;
}
