// Certificate pinning by SHA-256 fingerprint. One canonical form (upper-case hex pairs joined by
// colons, as `openssl x509 -fingerprint -sha256` and node's X509Certificate print it), so a value
// copied from either tool, with or without colons or a "sha256:" prefix, compares equal.
import { createHash, X509Certificate } from "node:crypto";

/** Canonical fingerprint of a DER-encoded certificate. */
export function fingerprintOfDer(der: Buffer): string {
  return formatFingerprint(createHash("sha256").update(der).digest("hex"));
}

/** Canonical fingerprint of the first certificate in a PEM text. */
export function fingerprintOfPem(pem: string | Buffer): string {
  return normalizeFingerprint(new X509Certificate(pem).fingerprint256);
}

/** Accepts `AB:CD:…`, `abcd…` or `sha256:…`; throws on anything that is not 32 bytes of hex. */
export function normalizeFingerprint(input: string): string {
  const hex = input
    .trim()
    .replace(/^sha256:/i, "")
    .replace(/[:\s]/g, "")
    .toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(hex)) {
    throw new Error(`not a SHA-256 certificate fingerprint: ${JSON.stringify(input)}`);
  }
  return formatFingerprint(hex);
}

function formatFingerprint(hex: string): string {
  return hex.toUpperCase().match(/../g)!.join(":");
}
