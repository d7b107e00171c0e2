// warren version [--json]: the CLI's version and, if one answers, the daemon's. Never starts a daemon.
import { createClient, socketPath } from "@warren/protocol";
import { cliVersion } from "../cli-version.ts";
import { printJson } from "../format.ts";

export async function versionCommand(opts: { json?: boolean }) {
  const client = cliVersion();
  let daemon: string | null = null;
  let why = "not running";
  try {
    daemon = (await createClient({ socketPath: socketPath() }).health()).version;
  } catch (err) {
    why = (err as Error).message;
  }
  if (opts.json) printJson({ client, daemon, node: process.version });
  else
    process.stdout.write(
      `warren ${client} (node ${process.version})\ndaemon: ${daemon ?? `unavailable: ${why}`}\n`,
    );
  return 0;
}
