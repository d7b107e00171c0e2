// warren admin fingerprint: the TLS certificate's SHA-256, read from the file on this host (not
// over the network, which is exactly what the fingerprint is meant to verify).
import { readFileSync } from "node:fs";
import path from "node:path";
import { fingerprintOfPem, WarrenError } from "@warren/protocol";

export async function adminFingerprintCommand() {
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
  process.stdout.write(`${fingerprintOfPem(pem)}\n`);
  return 0;
}
