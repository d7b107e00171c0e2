// Parsing and vetting a user's SSH public key. ssh2's parser reads the OpenSSH line and the key
// blob; it does not report an RSA key's size, so that is read from the blob's wire format here
// (RFC 4253 6.6: string "ssh-rsa", mpint e, mpint n). Only ed25519, ECDSA on the NIST curves and
// RSA of at least MIN_RSA_BITS are accepted; anything else is refused naming what it was.
import { createHash } from "node:crypto";
import {
  MAX_SSH_PUBLIC_KEY,
  MIN_RSA_BITS,
  SSH_KEY_TYPES,
  SSH_KEYS_ACCEPTED,
  WarrenError,
} from "@warren/protocol";
import ssh2 from "ssh2";

export interface ParsedPublicKey {
  type: string;
  bits: number;
  /** "SHA256:" + unpadded base64, as `ssh-keygen -l` prints it. */
  fingerprint: string;
  /** "TYPE BASE64": the comment is dropped, the name is kept in its own column. */
  line: string;
  /** The key's comment with control characters removed ("" when none). */
  comment: string;
}

const refuse = (msg: string) => new WarrenError("INVALID_ARGUMENT", msg, { field: "publicKey" });

const DESCRIBE: Record<string, string> = {
  "ssh-dss": "DSA (ssh-dss)",
  "ssh-rsa": "RSA",
};

/** The bit length of an SSH mpint at `off` in `blob`, and where the next field starts. */
function mpintBits(blob: Buffer, off: number): { bits: number; next: number } {
  if (off + 4 > blob.length) throw refuse("the RSA key is truncated");
  const len = blob.readUInt32BE(off);
  const start = off + 4;
  if (start + len > blob.length) throw refuse("the RSA key is truncated");
  let i = start;
  while (i < start + len && blob[i] === 0) i++;
  if (i === start + len) return { bits: 0, next: start + len };
  return { bits: (start + len - i - 1) * 8 + (32 - Math.clz32(blob[i]!)), next: start + len };
}

/** The RSA modulus size in bits, from the public key blob. */
export function rsaBits(blob: Buffer): number {
  const typeLen = blob.readUInt32BE(0);
  const e = mpintBits(blob, 4 + typeLen);
  return mpintBits(blob, e.next).bits;
}

function bitsOf(type: string, blob: Buffer): number {
  if (type === "ssh-rsa") return rsaBits(blob);
  if (type === "ssh-ed25519") return 256;
  const curve = /^ecdsa-sha2-nistp(\d+)$/.exec(type);
  return curve ? Number(curve[1]) : 0;
}

export function fingerprintOf(blob: Buffer): string {
  return `SHA256:${createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}`;
}

/** Parses one OpenSSH public key line and checks its type and size; throws INVALID_ARGUMENT. */
export function parsePublicKey(text: string): ParsedPublicKey {
  if (text.length > MAX_SSH_PUBLIC_KEY) {
    throw refuse(
      `the public key is longer than ${MAX_SSH_PUBLIC_KEY} bytes; give one OpenSSH public key line`,
    );
  }
  if (/PRIVATE KEY/.test(text)) {
    throw refuse("that is a private key; give the public key instead (the .pub file beside it)");
  }
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== "");
  if (lines.length !== 1) {
    throw refuse(
      `expected one OpenSSH public key line (e.g. the content of ~/.ssh/id_ed25519.pub), got ${lines.length} lines`,
    );
  }
  const line = lines[0]!.trim();
  const parsed = ssh2.utils.parseKey(line);
  if (parsed instanceof Error || Array.isArray(parsed)) {
    throw refuse(
      "not an OpenSSH public key (expected a line like `ssh-ed25519 AAAA... you@laptop`, as in ~/.ssh/id_ed25519.pub)",
    );
  }
  if (parsed.isPrivateKey()) {
    throw refuse("that is a private key; give the public key instead (the .pub file beside it)");
  }
  const type: string = parsed.type;
  const declared = line.split(/\s+/, 1)[0];
  if (declared !== type) {
    throw refuse(
      `the line says ${declared} but the key inside is ${type}; give the key as ssh-keygen wrote it`,
    );
  }
  if (!(SSH_KEY_TYPES as readonly string[]).includes(type)) {
    throw refuse(`${DESCRIBE[type] ?? type} keys are not accepted; use ${SSH_KEYS_ACCEPTED}`);
  }
  const blob = parsed.getPublicSSH();
  const bits = bitsOf(type, blob);
  if (type === "ssh-rsa" && bits < MIN_RSA_BITS) {
    throw refuse(
      `RSA keys of ${bits} bits are too small; use ${SSH_KEYS_ACCEPTED} (e.g. \`ssh-keygen -t ed25519\`)`,
    );
  }
  return {
    type,
    bits,
    fingerprint: fingerprintOf(blob),
    line: `${type} ${blob.toString("base64")}`,
    comment: parsed.comment.replace(/[\u0000-\u001f\u007f-\u009f]/g, "").trim(),
  };
}
