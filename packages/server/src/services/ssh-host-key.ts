// The SSH gateway's host key: an ed25519 key generated once and kept in the database, so every
// restart and every replica presents the same key and clients' known_hosts stay valid.
//
// - The private key is stored only sealed under the secrets key (services/secrets.ts, the box
//   passed in), bound to the row by associated data; `warren admin rotate-key` re-encrypts it with
//   the other secrets (reencryptSshHostKeys, called inside its transaction).
// - First start: every replica that finds no row generates a key and inserts it if still absent
//   (one row, fixed id); all then read the row back, so concurrent first starts agree on the one
//   that won.
// - Only the system reads it: the gateway, when it starts listening.
import { WarrenError } from "@warren/protocol";
import { type Clock, isoNow } from "../clock.ts";
import type { Db } from "../store/db.ts";
import type { Queryable } from "../store/queries/envs.ts";
import type { SshHostKeysTable } from "../store/schema-ssh-keys.ts";
import type { Actor } from "./actor.ts";
import { generateEd25519 } from "./ed25519-keypair.ts";
import type { SecretBox } from "./registry-secrets.ts";
import { requireSystem } from "./scope.ts";
import { parsePublicKey } from "./ssh-key-parse.ts";

export const HOST_KEY_ID = "gateway";

export interface SshHostKey {
  type: string;
  /** The private key in OpenSSH format, as ssh2's Server takes it in `hostKeys`. */
  privateKey: string;
  /** "ssh-ed25519 AAAA...": what clients pin in known_hosts. */
  publicKey: string;
  fingerprint: string;
}

export interface SshHostKeyService {
  hostKey(a: Actor): Promise<SshHostKey>;
}

/** Associated data for a host key's ciphertext: a sealed key moved to another row does not open. */
export const hostKeyAad = (id: string) => `ssh-host-key\0${id}`;

function readRow(db: Queryable) {
  return db.selectFrom("ssh_host_keys").selectAll().where("id", "=", HOST_KEY_ID).executeTakeFirst();
}

export function createSshHostKeyService(o: { db: Db; clock: Clock; box: SecretBox }): SshHostKeyService {
  async function ensureRow(): Promise<SshHostKeysTable> {
    const found = await readRow(o.db);
    if (found) return found;
    const pair = generateEd25519();
    const pub = parsePublicKey(pair.public);
    await o.db
      .insertInto("ssh_host_keys")
      .values({
        id: HOST_KEY_ID,
        type: pub.type,
        public_key: pub.line,
        fingerprint: pub.fingerprint,
        secret: await o.box.seal(pair.private, hostKeyAad(HOST_KEY_ID)),
        created_at: isoNow(o.clock),
      })
      .onConflict((oc) => oc.column("id").doNothing())
      .execute();
    // Whoever inserted first won; everyone uses that row.
    const row = await readRow(o.db);
    if (!row) throw new Error("the SSH host key row vanished right after it was written");
    return row;
  }

  async function open(row: SshHostKeysTable): Promise<string> {
    const ad = hostKeyAad(row.id);
    try {
      return await o.box.open(row.secret, ad);
    } catch {
      // Another process (or replica) rotated the keys since this box cached its key: read it again.
      o.box.reset?.();
      try {
        return await o.box.open(row.secret, ad);
      } catch {
        throw new WarrenError(
          "INTERNAL",
          "the SSH gateway's host key cannot be decrypted with the secrets key (was keys/secrets.key replaced?); " +
            "delete the ssh_host_keys row to generate a new host key, and tell users to update their known_hosts",
        );
      }
    }
  }

  return {
    async hostKey(a) {
      requireSystem(a, "reading the SSH host key");
      const row = await ensureRow();
      return {
        type: row.type,
        privateKey: await open(row),
        publicKey: row.public_key,
        fingerprint: row.fingerprint,
      };
    },
  };
}

/** Re-seals every host key under a new key; `warren admin rotate-key` calls it inside its transaction. */
export async function reencryptSshHostKeys(
  trx: Queryable,
  openOld: (sealed: string, aad: string) => string,
  sealNew: (plain: string, aad: string) => string,
): Promise<number> {
  const rows = await trx.selectFrom("ssh_host_keys").selectAll().execute();
  for (const r of rows) {
    const ad = hostKeyAad(r.id);
    await trx
      .updateTable("ssh_host_keys")
      .set({ secret: sealNew(openOld(r.secret, ad), ad) })
      .where("id", "=", r.id)
      .execute();
  }
  return rows.length;
}
