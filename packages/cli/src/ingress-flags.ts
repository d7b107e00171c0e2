// The SSH gateway's and port proxy's flags, which `warren daemon` and `warren server` both take.
import type { Command } from "commander";

export function withIngressFlags(cmd: Command): Command {
  return cmd
    .option(
      "--ssh-listen <host:port>",
      "the SSH gateway's address (default 127.0.0.1:2222, or WARREN_SSH_LISTEN; port 0 picks one)",
    )
    .option(
      "--http-listen <host:port>",
      "the port proxy's address (default 127.0.0.1:8080, or WARREN_HTTP_LISTEN; port 0 picks one)",
    )
    .option(
      "--base-domain <domain>",
      "port URLs are PORT--ENV--ORG.DOMAIN (default localhost, or WARREN_BASE_DOMAIN)",
    )
    .option(
      "--http-cert <file>",
      "wildcard certificate (PEM) for *.DOMAIN: serves port URLs over HTTPS (or WARREN_HTTP_CERT)",
    )
    .option("--http-key <file>", "its private key (PEM) (or WARREN_HTTP_KEY)");
}
