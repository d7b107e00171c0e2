// warren daemon: runs the daemon in the foreground until it shuts down.
// --listen HOST:PORT (or WARREN_LISTEN) also serves the API remotely over TLS.
// --db postgres://... (or WARREN_DB) keeps the store in PostgreSQL instead of SQLite under the root.
// --ssh-listen HOST:PORT (or WARREN_SSH_LISTEN) moves the SSH gateway off 127.0.0.1:2222.
// --http-listen HOST:PORT (or WARREN_HTTP_LISTEN) moves the port proxy off 127.0.0.1:8080.
import type { PortProxyFlags } from "../daemon-entry.ts";

export async function daemonCommand(
  opts: { listen?: string; db?: string; sshListen?: string } & PortProxyFlags = {},
) {
  const { startDaemonForCli } = await import("../daemon-entry.ts");
  await startDaemonForCli({
    listen: opts.listen ?? process.env["WARREN_LISTEN"],
    db: opts.db ?? process.env["WARREN_DB"],
    sshListen: opts.sshListen ?? process.env["WARREN_SSH_LISTEN"],
    httpListen: opts.httpListen,
    baseDomain: opts.baseDomain,
    httpCert: opts.httpCert,
    httpKey: opts.httpKey,
  });
  return 0;
}
