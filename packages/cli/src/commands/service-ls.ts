// warren service ls ENV [--json]: the services of an environment's .warren/automations.yaml,
// with their state as its supervisor reports it.
import { escapeControlChars, type ServiceList } from "@warren/protocol";
import { connect } from "../connect.ts";
import { printJson, renderTable } from "../format.ts";

export async function serviceLsCommand(env: string, opts: { json?: boolean }) {
  const client = await connect();
  const list = await client.listServices(env);
  if (opts.json) printJson(list);
  else process.stdout.write(serviceTable(env, list));
  return 0;
}

export function serviceTable(env: string, list: ServiceList): string {
  if (list.items.length === 0)
    return `(${env} has no services: a repository declares them in .warren/automations.yaml)\n`;
  const rows = list.items.map((s) => [
    s.name,
    s.state,
    s.pid !== undefined ? String(s.pid) : "-",
    String(s.restarts),
    s.dependsOn.join(",") || "-",
    s.message !== undefined ? escapeControlChars(s.message) : "",
  ]);
  let out = renderTable(["SERVICE", "STATE", "PID", "RESTARTS", "DEPENDS ON", "MESSAGE"], rows);
  if (!list.running)
    out += `(the automations of ${env} are not running: they start with it, after its setup)\n`;
  return out;
}
