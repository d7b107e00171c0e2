// warren context ls [--json]: saved servers and which one is current. Tokens are never shown,
// only whether one is stored.
import { listContexts } from "../contexts.ts";
import { printJson, renderTable } from "../format.ts";

export async function contextLsCommand(opts: { json?: boolean }) {
  const items = listContexts();
  if (opts.json) printJson(items);
  else
    process.stdout.write(
      renderTable(
        ["CURRENT", "NAME", "URL", "FINGERPRINT", "TOKEN"],
        items.map((c) => [
          c.current ? "*" : "",
          c.name,
          c.url,
          c.fingerprint ? `${c.fingerprint.slice(0, 23)}…` : "",
          c.hasToken ? "yes" : "",
        ]),
      ),
    );
  return 0;
}
