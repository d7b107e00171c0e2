// warren admin fingerprint [--json]: the TLS certificate's SHA-256, read from the file on this host (not
// over the network, which is exactly what the fingerprint is meant to verify).
import { readFileSync } from "node:fs";
import path from "node:path";
import { fingerprintOfPem, WarrenError } from "@warren/protocol";
import { printJson } from "../format.ts";

export async function adminFingerprintCommand(opts: { json?: boolean } = {}) {
  const root = process.env["WARREN_ROOT"] ?? "/var/lib/warren";
  const file = process.env["WARREN_TLS_CERT"] ?? path.join(root, "tls", "cert.pem");
  let pem: Buffer;
  try {
    pem = readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === "ENOENT"
        ? "the daemon makes it on its first start with --listen"
        : `${(err as Error).message}; run with sudo`;
    throw new WarrenError("INVALID_ARGUMENT", `cannot read the TLS certificate ${file}: ${why}`);
  }
  const fingerprint = fingerprintOfPem(pem);
  if (opts.json) printJson({ fingerprint, certFile: file });
  else process.stdout.write(`${fingerprint}\n`);
  return 0;
}
