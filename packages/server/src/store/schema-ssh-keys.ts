// Row shapes for SSH keys (migration 021): users' public keys and the gateway's host key.

export interface SshKeysTable {
  id: string;
  org_id: string;
  user_id: string;
  name: string;
  /** The key's SSH type, e.g. ssh-ed25519, ecdsa-sha2-nistp256, ssh-rsa. */
  type: string;
  /** "SHA256:" and the unpadded base64 of the SHA-256 of the key blob, as OpenSSH prints it. */
  fingerprint: string;
  /** One authorized_keys line: type, base64 blob and the name as comment. */
  public_key: string;
  created_at: string;
}

export interface SshHostKeysTable {
  /** Always "gateway": one host key for every replica. */
  id: string;
  type: string;
  public_key: string;
  fingerprint: string;
  /** The private key (OpenSSH format), sealed under the secrets key. */
  secret: string;
  created_at: string;
}

export interface SshKeysSchema {
  ssh_keys: SshKeysTable;
  ssh_host_keys: SshHostKeysTable;
}
