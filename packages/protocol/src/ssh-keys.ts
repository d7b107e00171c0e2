// Users' SSH public keys for the SSH gateway, as the API shows them (server services/ssh-keys.ts).
//
//   GET    /api/v1/ssh-keys?all=1            -> { items: SshKey[] } (own keys; all=1: every key of the
//                                                organisation's members, admins)
//   POST   /api/v1/ssh-keys { publicKey, name? } -> 201 SshKey
//   DELETE /api/v1/ssh-keys/:id                -> 204 (own keys; admins: any of the organisation's)

/** The key types the gateway accepts: ed25519, ECDSA on the NIST curves, and RSA of MIN_RSA_BITS or more. */
export const SSH_KEY_TYPES = [
  "ssh-ed25519",
  "ecdsa-sha2-nistp256",
  "ecdsa-sha2-nistp384",
  "ecdsa-sha2-nistp521",
  "ssh-rsa",
] as const;
export const MIN_RSA_BITS = 3072;
export const MAX_SSH_KEY_NAME = 100;
/** The longest public key line accepted (an RSA 16384 key is about 2.8 KB). */
export const MAX_SSH_PUBLIC_KEY = 16 * 1024;

/** What is accepted, for refusals: "ed25519, ECDSA (nistp256/384/521) or RSA of at least 3072 bits". */
export const SSH_KEYS_ACCEPTED = `ed25519, ECDSA (nistp256, nistp384, nistp521) or RSA of at least ${MIN_RSA_BITS} bits`;

export interface SshKey {
  id: string;
  name: string;
  /** The SSH key type, e.g. ssh-ed25519. */
  type: string;
  /** Modulus size of an RSA key, curve size of an ECDSA key, 256 for ed25519. */
  bits: number;
  /** As `ssh-keygen -l` prints it: SHA256:base64. */
  fingerprint: string;
  /** The authorized_keys line: type, key, and the name as comment. */
  publicKey: string;
  /** The user the key logs in as. */
  userId: string;
  createdAt: string;
}

export interface AddSshKeyRequest {
  /** One OpenSSH public key line (authorized_keys / id_*.pub format). */
  publicKey: string;
  /** Default: the key's comment, else its type. */
  name?: string;
}

/** Part of ApiClient (api.ts). */
export interface SshKeyClient {
  addSshKey(req: AddSshKeyRequest): Promise<SshKey>;
  /** The caller's keys; `all` (admins): every member's key in the organisation. */
  listSshKeys(opts?: { all?: boolean }): Promise<SshKey[]>;
  removeSshKey(id: string): Promise<void>;
  /** GET /api/v1/ssh/gateway: where the SSH gateway listens and the host key clients pin. */
  sshGateway(): Promise<SshGatewayInfo>;
}

/** The SSH gateway as `warren ssh` and `warren ssh-config` need it. */
export interface SshGatewayInfo {
  /** False when the server runs without a gateway (no --ssh-listen). */
  listening: boolean;
  /** The address it listens on, as configured (may be a wildcard such as 0.0.0.0). */
  host: string;
  port: number;
  /** The host public key line: "ssh-ed25519 AAAA...". */
  hostKey: string;
  /** As `ssh-keygen -l` prints it: SHA256:base64. */
  fingerprint: string;
}
