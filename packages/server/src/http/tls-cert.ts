// The TLS listener's certificate: the operator's own (WARREN_TLS_CERT/WARREN_TLS_KEY), or a
// self-signed one made once under ${root}/tls/ and kept, so the fingerprint clients pinned with
// `warren login` stays valid across restarts. node:crypto cannot issue X.509 certificates, hence
// the openssl CLI (installed by scripts/setup.sh).
import { execFile } from "node:child_process";
import { chmod, mkdir, readFile, rename, rm } from "node:fs/promises";
import { hostname, networkInterfaces } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { fingerprintOfPem } from "@warren/protocol";

const run = promisify(execFile);

export interface TlsMaterial {
  cert: Buffer;
  key: Buffer;
  /** Canonical SHA-256 fingerprint of `cert` (what `warren login --fingerprint` expects). */
  fingerprint: string;
  certPath: string;
  /** True when this call made the certificate. */
  generated: boolean;
}

export function tlsPaths(root: string): { dir: string; cert: string; key: string } {
  const dir = path.join(root, "tls");
  return { dir, cert: path.join(dir, "cert.pem"), key: path.join(dir, "key.pem") };
}

export interface CertOptions {
  root: string;
  /** The listen host; a specific address or name becomes a SAN too. */
  listenHost?: string;
  certPath?: string | undefined;
  keyPath?: string | undefined;
}

export async function loadOrCreateCertificate(o: CertOptions): Promise<TlsMaterial> {
  if (o.certPath || o.keyPath) {
    if (!o.certPath || !o.keyPath)
      throw new Error("WARREN_TLS_CERT and WARREN_TLS_KEY must be given together");
    return load(o.certPath, o.keyPath, false);
  }
  const p = tlsPaths(o.root);
  try {
    return await load(p.cert, p.key, false);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  await generateSelfSigned(p.dir, subjectAltNames(o.listenHost));
  return load(p.cert, p.key, true);
}

async function load(certPath: string, keyPath: string, generated: boolean): Promise<TlsMaterial> {
  const [cert, key] = await Promise.all([readFile(certPath), readFile(keyPath)]);
  return { cert, key, fingerprint: fingerprintOfPem(cert), certPath, generated };
}

/** ECDSA P-256, ten years: the pin, not the expiry or a CA, is what clients trust. */
export async function generateSelfSigned(dir: string, sans: string[]): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  // Written under temporary names and renamed: a crash mid-way must not leave a key without its
  // certificate (which the next start would take as "operator-provided" and fail on).
  const tmp = path.join(dir, `.new-${process.pid}`);
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { mode: 0o700 });
  try {
    const key = path.join(tmp, "key.pem");
    const cert = path.join(tmp, "cert.pem");
    await run("openssl", [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-keyout",
      key,
      "-out",
      cert,
      "-days",
      "3650",
      "-subj",
      "/CN=warren",
      "-addext",
      `subjectAltName=${sans.join(",")}`,
      "-addext",
      "basicConstraints=critical,CA:FALSE",
      "-addext",
      "extendedKeyUsage=serverAuth",
    ]);
    await chmod(key, 0o600);
    await chmod(cert, 0o600);
    await rename(key, path.join(dir, "key.pem"));
    await rename(cert, path.join(dir, "cert.pem"));
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/** The host name, localhost, loopback, and the listen address (all interface addresses for a wildcard). */
export function subjectAltNames(listenHost?: string): string[] {
  const dns = new Set<string>(["localhost"]);
  const ips = new Set<string>(["127.0.0.1", "::1"]);
  const h = hostname();
  if (h) dns.add(h);
  const wildcard = listenHost === undefined || listenHost === "0.0.0.0" || listenHost === "::";
  if (wildcard) {
    for (const addrs of Object.values(networkInterfaces())) {
      for (const a of addrs ?? []) if (!a.address.startsWith("fe80:")) ips.add(a.address);
    }
  } else if (isIpLiteral(listenHost)) ips.add(listenHost);
  else dns.add(listenHost);
  return [...[...dns].map((d) => `DNS:${d}`), ...[...ips].map((i) => `IP:${i}`)];
}

function isIpLiteral(s: string): boolean {
  return /^[0-9.]+$/.test(s) || s.includes(":");
}
