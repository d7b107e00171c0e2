// warren stats [NAME] [--json] [--watch]: live usage of running environments, like `docker stats`.
// --watch refreshes every 2 s until ^C: in place on a terminal, as appended tables (or one JSON
// document per line with --json) when piped, so logs of it stay readable.
import type { ApiClient, EnvStats } from "@warren/protocol";
import { connect } from "../connect.ts";
import { printJson } from "../format.ts";
import { statsTable } from "../format-stats.ts";

export const WATCH_MS = 2000;

async function read(client: ApiClient, name: string | undefined): Promise<EnvStats[]> {
  return name === undefined ? client.stats() : [await client.environmentStats(name)];
}

export async function statsCommand(
  name: string | undefined,
  opts: { json?: boolean; watch?: boolean },
): Promise<number> {
  const client = await connect();
  const one = async () => {
    const stats = await read(client, name);
    return name === undefined ? stats : stats[0]!;
  };
  if (!opts.watch) {
    const out = await one();
    if (opts.json) printJson(out);
    else process.stdout.write(statsTable(Array.isArray(out) ? out : [out]));
    return 0;
  }
  const tty = process.stdout.isTTY === true && !opts.json;
  let stop = false;
  let wake: (() => void) | undefined;
  const onSigint = () => {
    stop = true;
    wake?.();
  };
  process.once("SIGINT", onSigint);
  try {
    while (!stop) {
      const started = Date.now();
      const out = await one();
      if (stop) break;
      if (opts.json) process.stdout.write(`${JSON.stringify(out)}\n`);
      else {
        const table = statsTable(Array.isArray(out) ? out : [out]);
        // Home and clear-to-end instead of a full clear: no flicker between refreshes.
        process.stdout.write(tty ? `\x1b[H${table.replaceAll("\n", "\x1b[K\n")}\x1b[J` : `${table}\n`);
      }
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, Math.max(0, WATCH_MS - (Date.now() - started)));
      });
    }
  } finally {
    process.off("SIGINT", onSigint);
  }
  return 0;
}
