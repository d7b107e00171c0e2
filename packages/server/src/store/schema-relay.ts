// Relays between replicas (migration 033; server/src/relay/).

/** The cluster CA, one row ('cluster'); its key only sealed under the secrets key. */
export interface RelayCaTable {
  id: string;
  cert_pem: string;
  fingerprint: string;
  /** The CA's private key (PEM), sealed (services/registry-secrets.ts SecretBox). */
  secret: string;
  created_at: string;
}

/** A running replica's internal relay listener. */
export interface ReplicasTable {
  /** The replica id (store/pg-change-bus.ts), also what runners.replica names. */
  id: string;
  /** https://HOST:PORT other replicas dial. */
  internal_url: string;
  /** Canonical SHA-256 of cert_pem: what a relaying replica pins. */
  cert_fingerprint: string;
  cert_pem: string;
  started_at: string;
  seen_at: string;
}

export interface RelaySchema {
  relay_ca: RelayCaTable;
  replicas: ReplicasTable;
}
