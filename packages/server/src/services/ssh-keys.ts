// Users' SSH public keys, which the SSH gateway will authenticate logins with.
//
// Who may do what:
// - every user adds, lists and removes their own keys (in the organisation they act in);
// - admins and owners also list (`all`) and remove the keys of their organisation's members, so a
//   leaked key can be pulled without its owner; they never add a key for someone else;
// - a key id of another organisation, or (for a member) another member's, is NOT_FOUND, never
//   FORBIDDEN, so ids reveal nothing;
// - runners see and change nothing; the system reads (the gateway matching a login: byFingerprint).
//
// Removing a key must end the SSH sessions it opened. The live-session registry
// (services/live-sessions.ts) ends sessions by token and by membership, and an SSH login has
// neither, so the key is the credential: the gateway registers each session under the key id it
// authenticated with, and subscribes with onRemoved() to end that key's sessions at once. Other
// replicas learn of a removal the way they learn of a revoked token (the change bus), and the
// gateway's periodic re-read of its sessions' keys (byFingerprint) catches one whose notice was lost.
import { randomBytes } from "node:crypto";
import { type AddSshKeyRequest, MAX_SSH_KEY_NAME, type SshKey, WarrenError } from "@warren/protocol";
import { type Clock, isoNow } from "../clock.ts";
import type { Logger } from "../logger.ts";
import type { Db } from "../store/db.ts";
import {
  deleteSshKey,
  getSshKey,
  insertSshKey,
  listOrgSshKeys,
  listUserSshKeys,
  type SshKeyRow,
  sshKeysByFingerprint,
} from "../store/queries/ssh-keys.ts";
import { type Actor, requireUser } from "./actor.ts";
import { isAdmin } from "./identity.ts";
import { requireSystem } from "./scope.ts";
import { parsePublicKey } from "./ssh-key-parse.ts";

/** A key that was removed: whose it was, for ending the sessions it opened. */
export interface RemovedSshKey {
  id: string;
  orgId: string;
  userId: string;
  fingerprint: string;
}

export interface SshKeyService {
  add(a: Actor, req: AddSshKeyRequest): Promise<SshKey>;
  /** The caller's own keys; with `all`, every key of the organisation's members (admins). */
  list(a: Actor, opts?: { all?: boolean }): Promise<SshKey[]>;
  /** Removes a key the caller may manage; NOT_FOUND otherwise. */
  remove(a: Actor, id: string): Promise<SshKey>;
  /** Every registration of a public key, in any organisation (the system only: the gateway). */
  byFingerprint(a: Actor, fingerprint: string): Promise<SshKey[]>;
  /** Called synchronously after each removal, before remove() resolves. */
  onRemoved(cb: (k: RemovedSshKey) => void): void;
}

function toKey(r: SshKeyRow): SshKey {
  return {
    id: r.id,
    name: r.name,
    type: r.type,
    bits: bitsOfRow(r),
    fingerprint: r.fingerprint,
    publicKey: r.public_key,
    userId: r.user_id,
    createdAt: r.created_at,
  };
}

/** Stored keys passed the checks when added; their size is read again rather than stored twice. */
function bitsOfRow(r: SshKeyRow): number {
  try {
    return parsePublicKey(r.public_key).bits;
  } catch {
    return 0;
  }
}

function checkName(name: string): string {
  const n = name.trim();
  if (n.length === 0 || n.length > MAX_SSH_KEY_NAME || /[\u0000-\u001f\u007f-\u009f]/.test(n)) {
    throw new WarrenError(
      "INVALID_ARGUMENT",
      `the key name must be 1-${MAX_SSH_KEY_NAME} characters without control characters`,
      { field: "name" },
    );
  }
  return n;
}

const notFound = (id: string) =>
  new WarrenError("NOT_FOUND", `no SSH key ${id}; \`warren ssh-key ls\` lists yours`, { id });

export function createSshKeyService(o: { db: Db; clock: Clock; logger?: Logger }): SshKeyService {
  const listeners: ((k: RemovedSshKey) => void)[] = [];
  return {
    async add(a, req) {
      const user = requireUser(a, "adding an SSH key");
      const parsed = parsePublicKey(req.publicKey);
      const name = checkName(req.name ?? (parsed.comment.slice(0, MAX_SSH_KEY_NAME) || parsed.type));
      const row: SshKeyRow = {
        id: `ssk_${randomBytes(8).toString("hex")}`,
        org_id: user.orgId,
        user_id: user.userId,
        name,
        type: parsed.type,
        fingerprint: parsed.fingerprint,
        public_key: parsed.line,
        created_at: isoNow(o.clock),
      };
      if (!(await insertSshKey(o.db, row))) {
        throw new WarrenError(
          "SSH_KEY_EXISTS",
          `you have already added the key ${parsed.fingerprint}; \`warren ssh-key ls\` shows it`,
          { fingerprint: parsed.fingerprint },
        );
      }
      return toKey(row);
    },
    async list(a, opts) {
      const user = requireUser(a, "listing SSH keys");
      if (opts?.all) {
        if (!isAdmin(user)) {
          throw new WarrenError("FORBIDDEN", "listing every member's SSH keys is for admins and owners");
        }
        return (await listOrgSshKeys(o.db, user.orgId)).map(toKey);
      }
      return (await listUserSshKeys(o.db, user.orgId, user.userId)).map(toKey);
    },
    async remove(a, id) {
      const user = requireUser(a, "removing an SSH key");
      const row = await getSshKey(o.db, user.orgId, id);
      if (!row || (row.user_id !== user.userId && !isAdmin(user))) throw notFound(id);
      if (!(await deleteSshKey(o.db, user.orgId, id))) throw notFound(id);
      const removed = { id: row.id, orgId: row.org_id, userId: row.user_id, fingerprint: row.fingerprint };
      for (const cb of listeners) {
        try {
          cb(removed);
        } catch (err) {
          // The key is gone either way; a listener's failure must not turn that into an error.
          o.logger?.error({ err, key: id }, "a listener for a removed SSH key failed");
        }
      }
      return toKey(row);
    },
    async byFingerprint(a, fingerprint) {
      requireSystem(a, "matching an SSH key");
      return (await sshKeysByFingerprint(o.db, fingerprint)).map(toKey);
    },
    onRemoved: (cb) => listeners.push(cb),
  };
}
