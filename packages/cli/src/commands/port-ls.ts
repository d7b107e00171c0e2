// warren port ls ENV [--json]: the TCP ports listening inside an environment (detected in its
// network namespace), with each port's visibility and URL. Ports someone shared that nothing
// listens on yet are listed too, as "-" for their address.
import { type EnvPort, type EnvPortList, escapeControlChars } from "@warren/protocol";
import { connect } from "../connect.ts";
import { printJson, renderTable } from "../format.ts";

export async function portLsCommand(env: string, opts: { json?: boolean }) {
  const client = await connect();
  const list = await client.listEnvPorts(env);
  if (opts.json) printJson(list);
  else process.stdout.write(portTable(env, list));
  return 0;
}

export function portTable(env: string, list: EnvPortList): string {
  const rows = list.items.map((p: EnvPort) => [
    String(p.port),
    p.listening ? p.addresses.join(",") : "-",
    // Process names come from inside the environment: never let one drive the terminal.
    p.process !== undefined ? escapeControlChars(p.process) : "-",
    p.visibility,
    p.url ?? "-",
  ]);
  // devcontainer.json's labels get a column of their own, only when some port has one.
  const labelled = list.items.some((p) => p.label !== undefined);
  let out = labelled
    ? renderTable(
        ["PORT", "ADDRESS", "PROCESS", "VISIBILITY", "URL", "LABEL"],
        rows.map((r, i) => [...r, escapeControlChars(list.items[i]!.label ?? "-")]),
      )
    : renderTable(["PORT", "ADDRESS", "PROCESS", "VISIBILITY", "URL"], rows);
  if (!list.running)
    out += `(${env} is not running: listening ports show once it runs; \`warren start ${env}\`)\n`;
  else if (list.items.length === 0) out += `(nothing listens in ${env} yet)\n`;
  return out;
}
