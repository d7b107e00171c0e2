// warren ls [--json] [--watch]
import type { Environment, WatchEvent } from "@warren/protocol";
import { connect } from "../connect.ts";
import { envTable, printJson } from "../format.ts";

export async function lsCommand(opts: { json?: boolean; watch?: boolean }) {
  const client = await connect();
  if (opts.watch) return lsWatch(opts.json === true);
  const envs = await client.listEnvironments();
  if (opts.json) printJson(envs);
  else process.stdout.write(envTable(envs));
  return 0;

  // One watch from the current list: the stream's ADDED events up to its BOOKMARK are the table,
  // every later event is a line. It ends when the daemon ends the stream (e.g. it shuts down).
  async function lsWatch(json: boolean): Promise<number> {
    const initial: Environment[] = [];
    let listed = false;
    const onEvent = (e: WatchEvent) => {
      if (json) {
        process.stdout.write(`${JSON.stringify(e)}\n`);
        return;
      }
      if (!listed) {
        if (e.type === "BOOKMARK") {
          listed = true;
          process.stdout.write(envTable(initial));
        } else if (e.object) initial.push(e.object);
        return;
      }
      if (e.type !== "BOOKMARK" && e.object) process.stdout.write(changeLine(e.type, e.object));
    };
    await client.watchEnvironments({}, onEvent);
    return 0;
  }
}

export function changeLine(type: string, e: Environment): string {
  return `${type.padEnd(9)} ${e.name.padEnd(24)} ${e.state.padEnd(10)} desired=${e.desired}\n`;
}
