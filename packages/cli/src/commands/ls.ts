// warren ls [--json] [--watch]
import { ENV_STATES, type Environment, type WatchEvent } from "@warren/protocol";
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
    // Names pad to the widest seen so far (as the table does), not to the longest name allowed.
    let nameWidth = "NAME".length;
    const onEvent = (e: WatchEvent) => {
      if (json) {
        process.stdout.write(`${JSON.stringify(e)}\n`);
        return;
      }
      if (e.object) nameWidth = Math.max(nameWidth, e.object.name.length);
      if (!listed) {
        if (e.type === "BOOKMARK") {
          listed = true;
          process.stdout.write(envTable(initial));
        } else if (e.object) initial.push(e.object);
        return;
      }
      if (e.type !== "BOOKMARK" && e.object) process.stdout.write(changeLine(e.type, e.object, nameWidth));
    };
    await client.watchEnvironments({}, onEvent);
    return 0;
  }
}

const TYPE_WIDTH = Math.max(...["ADDED", "MODIFIED", "DELETED"].map((t) => t.length));
const STATE_WIDTH = Math.max(...ENV_STATES.map((s) => s.length));

/** One change under the table: columns two spaces apart, like the table's. */
export function changeLine(type: string, e: Environment, nameWidth: number = e.name.length): string {
  return `${type.padEnd(TYPE_WIDTH)}  ${e.name.padEnd(nameWidth)}  ${e.state.padEnd(STATE_WIDTH)}  desired=${e.desired}\n`;
}
