// Row shapes for port visibility (migration 022).

export interface EnvPortsTable {
  env_id: string;
  port: number;
  visibility: "private" | "org" | "public";
  updated_at: string;
  /** A user id, or "local-root" for root on the local socket. */
  updated_by: string;
}

export interface PortsSchema {
  env_ports: EnvPortsTable;
}
