// warren task ls ENV [--json]: the tasks of an environment's .warren/automations.yaml, with what
// triggers them and how their last run ended.
import { escapeControlChars, type TaskList } from "@warren/protocol";
import { connect } from "../connect.ts";
import { printJson, renderTable } from "../format.ts";

export async function taskLsCommand(env: string, opts: { json?: boolean }) {
  const client = await connect();
  const list = await client.listTasks(env);
  if (opts.json) printJson(list);
  else process.stdout.write(taskTable(env, list));
  return 0;
}

export function taskTable(env: string, list: TaskList): string {
  if (list.items.length === 0)
    return `(${env} has no tasks: a repository declares them in .warren/automations.yaml)\n`;
  const rows = list.items.map((t) => [
    t.name,
    t.state,
    String(t.runs),
    t.exitCode !== undefined ? String(t.exitCode) : "-",
    t.triggeredBy.join(","),
    t.dependsOn.join(",") || "-",
    t.message !== undefined ? escapeControlChars(t.message) : "",
  ]);
  let out = renderTable(["TASK", "STATE", "RUNS", "EXIT", "TRIGGERED BY", "DEPENDS ON", "MESSAGE"], rows);
  if (!list.running)
    out += `(the automations of ${env} are not running: they start with it, after its setup)\n`;
  return out;
}
