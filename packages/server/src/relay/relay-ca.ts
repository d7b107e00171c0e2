// The cluster CA that relays between replicas trust, and the leaf each replica issues itself.
//
// - One CA per database, made by the first replica that starts with relays on and kept in the
//   store (relay_ca): its certificate in the clear, its key sealed under the secrets key, bound to
//   the row by associated data. Concurrent first starts each make one and insert it if still
//   absent; all read the row back and use the one that won (as the SSH host key does).
// - Each replica, at every start, issues itself a fresh leaf (serverAuth and clientAuth) from it,
//   for its internal listener and for the relays it makes. The leaf's key lives only in memory.
// - node:crypto cannot issue X.509 certificates, hence the openssl CLI (as http/tls-cert.ts).
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { fingerprintOfPem, WarrenError } from "@warren/protocol";
import type { SecretBox } from "../services/registry-secrets.ts";
import type { Db } from "../store/db.ts";
import type { Queryable } from "../store/queries/envs.ts";

const run = promisify(execFile);

export const CA_ID = "cluster";
/** Associated data of the CA key's ciphertext: a sealed key moved to another row does not open. */
export const relayCaAad = (id: string) => `relay-ca\0${id}`;

export interface ClusterCa {
  certPem: string;
  keyPem: string;
  fingerprint: string;
}

export interface LeafCert {
  certPem: string;
  keyPem: string;
  fingerprint: string;
  caPem: string;
}

const EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

/** openssl in a private temporary directory (0700), removed afterwards whatever happens. */
async function inTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(path.join(tmpdir(), "warren-relay-ca-"));
  await chmod(dir, 0o700);
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A new CA (ECDSA P-256, ten years), `name` in its subject. */
export async function generateCa(name = "warren relay CA"): Promise<ClusterCa> {
  return inTempDir(async (dir) => {
    const key = path.join(dir, "ca.key");
    const cert = path.join(dir, "ca.pem");
    await run("openssl", [
      "req",
      "-x509",
      ...EC,
      "-keyout",
      key,
      "-out",
      cert,
      "-days",
      "3650",
      "-subj",
      `/CN=${name}`,
      "-addext",
      "basicConstraints=critical,CA:TRUE,pathlen:0",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    const [certPem, keyPem] = await Promise.all([readFile(cert, "utf8"), readFile(key, "utf8")]);
    return { certPem, keyPem, fingerprint: fingerprintOfPem(certPem) };
  });
}

/** A leaf for one replica: serverAuth for its listener, clientAuth for the relays it makes. */
export async function issueLeaf(ca: ClusterCa, replicaId: string, sans: string[]): Promise<LeafCert> {
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(replicaId))
    throw new Error(`invalid replica id ${JSON.stringify(replicaId)}`);
  return inTempDir(async (dir) => {
    const p = (n: string) => path.join(dir, n);
    await writeFile(p("ca.key"), ca.keyPem, { mode: 0o600 });
    await writeFile(p("ca.pem"), ca.certPem, { mode: 0o600 });
    await writeFile(
      p("ext.cnf"),
      [
        "basicConstraints=critical,CA:FALSE",
        "keyUsage=critical,digitalSignature",
        "extendedKeyUsage=serverAuth,clientAuth",
        `subjectAltName=${sans.join(",")}`,
        "",
      ].join("\n"),
    );
    await run("openssl", [
      "req",
      "-new",
      ...EC,
      "-keyout",
      p("leaf.key"),
      "-out",
      p("leaf.csr"),
      "-subj",
      `/CN=warren replica ${replicaId}`,
    ]);
    await run("openssl", [
      "x509",
      "-req",
      "-in",
      p("leaf.csr"),
      "-CA",
      p("ca.pem"),
      "-CAkey",
      p("ca.key"),
      "-set_serial",
      `0x${randomBytes(16).toString("hex")}`,
      "-days",
      "397",
      "-extfile",
      p("ext.cnf"),
      "-out",
      p("leaf.pem"),
    ]);
    const [certPem, keyPem] = await Promise.all([
      readFile(p("leaf.pem"), "utf8"),
      readFile(p("leaf.key"), "utf8"),
    ]);
    return { certPem, keyPem, fingerprint: fingerprintOfPem(certPem), caPem: ca.certPem };
  });
}

function readRow(db: Queryable) {
  return db.selectFrom("relay_ca").selectAll().where("id", "=", CA_ID).executeTakeFirst();
}

/** The cluster CA from the store, made and stored first if no replica has yet. */
export async function loadOrCreateCa(db: Db, box: SecretBox, now: () => string): Promise<ClusterCa> {
  let row = await readRow(db);
  if (!row) {
    const made = await generateCa();
    await db
      .insertInto("relay_ca")
      .values({
        id: CA_ID,
        cert_pem: made.certPem,
        fingerprint: made.fingerprint,
        secret: await box.seal(made.keyPem, relayCaAad(CA_ID)),
        created_at: now(),
      })
      .onConflict((oc) => oc.column("id").doNothing())
      .execute();
    // Whoever inserted first won; every replica uses that row.
    row = await readRow(db);
    if (!row) throw new Error("the relay CA row vanished right after it was written");
  }
  const ad = relayCaAad(row.id);
  let keyPem: string;
  try {
    keyPem = await box.open(row.secret, ad);
  } catch {
    // Another replica rotated the keys since this box cached its key: read it again.
    box.reset?.();
    try {
      keyPem = await box.open(row.secret, ad);
    } catch {
      throw new WarrenError(
        "INTERNAL",
        "the relay CA's key cannot be decrypted with keys/secrets.key: every replica must have the same " +
          "keys/ directory as the others (copy it from a running replica), or, if that key is lost, delete " +
          "the relay_ca row so the next start makes a new CA",
      );
    }
  }
  return { certPem: row.cert_pem, keyPem, fingerprint: row.fingerprint };
}

/** Re-seals the CA key under a new key; `warren admin rotate-key` calls it inside its transaction. */
export async function reencryptRelayCa(
  trx: Queryable,
  openOld: (sealed: string, aad: string) => string,
  sealNew: (plain: string, aad: string) => string,
): Promise<number> {
  const rows = await trx.selectFrom("relay_ca").selectAll().execute();
  for (const r of rows) {
    const ad = relayCaAad(r.id);
    await trx
      .updateTable("relay_ca")
      .set({ secret: sealNew(openOld(r.secret, ad), ad) })
      .where("id", "=", r.id)
      .execute();
  }
  return rows.length;
}
