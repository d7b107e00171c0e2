// Row shapes for OIDC identities and sign-ins in progress (migration 011).

/** An identity provider's account, (issuer, subject), linked to one Warren user. */
export interface OidcIdentitiesTable {
  issuer: string;
  subject: string;
  user_id: string;
  /** The provider's email claim at the last sign-in: shown, never matched on. */
  email: string | null;
  created_at: string;
  last_sign_in_at: string;
}

/** A browser sign-in between /auth/oidc/start and the provider's redirect back. */
export interface OidcFlowsTable {
  /** Hex SHA-256 of the `state` parameter. */
  state_hash: string;
  /** The PKCE code verifier, sent to the provider's token endpoint. */
  verifier: string;
  /** Hex SHA-256 of the nonce the ID token must carry. */
  nonce_hash: string;
  /** Set when this browser sign-in approves a device code. */
  user_code: string | null;
  /** Hex SHA-256 of the cookie that binds the flow to its browser (migration 017). */
  browser_hash: string | null;
  /** Set when the sign-in was started at a port URL: where it ends (migration 024). */
  port_env_id: string | null;
  port: number | null;
  /** Set when the sign-in was started at the dashboard: the dashboard host it ends at (migration 030). */
  dashboard_host: string | null;
  created_at: string;
  expires_at: string;
}

/** A device code between POST /auth/device and the terminal redeeming it. */
export interface DeviceCodesTable {
  /** Hex SHA-256 of the device code. */
  code_hash: string;
  user_code: string;
  interval_s: number;
  last_poll_at: string | null;
  /** Set (both) once a browser sign-in approved the code. */
  approved_user_id: string | null;
  approved_org_id: string | null;
  /** The terminal's User-Agent and source address, shown before a browser approves (migration 017). */
  client: string | null;
  requested_from: string | null;
  created_at: string;
  expires_at: string;
}

export interface OidcSchema {
  oidc_identities: OidcIdentitiesTable;
  oidc_flows: OidcFlowsTable;
  device_codes: DeviceCodesTable;
}
