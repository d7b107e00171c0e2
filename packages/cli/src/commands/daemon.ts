// warren daemon: runs the daemon in the foreground until it shuts down.
// --listen HOST:PORT (or WARREN_LISTEN) also serves the API remotely over TLS.
export async function daemonCommand(opts: { listen?: string } = {}) {
  const { startDaemonForCli } = await import("../daemon-entry.ts");
  await startDaemonForCli({ listen: opts.listen ?? process.env["WARREN_LISTEN"] });
  return 0;
}
