// warren daemon: runs the daemon in the foreground until it shuts down.
// --listen HOST:PORT (or WARREN_LISTEN) also serves the API remotely over TLS.
// --db postgres://... (or WARREN_DB) keeps the store in PostgreSQL instead of SQLite under the root.
export async function daemonCommand(opts: { listen?: string; db?: string } = {}) {
  const { startDaemonForCli } = await import("../daemon-entry.ts");
  await startDaemonForCli({
    listen: opts.listen ?? process.env["WARREN_LISTEN"],
    db: opts.db ?? process.env["WARREN_DB"],
  });
  return 0;
}
