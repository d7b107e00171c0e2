// Environment ports as the API shows them (server services/ports.ts): what listens inside an
// environment, who may reach each port through the port proxy, and its URL.
//
//   GET  /api/v1/environments/:name/ports         -> EnvPortList
//   PUT  /api/v1/environments/:name/ports/:port { visibility } -> EnvPort
//   POST /api/v1/environments/:name/ports/:port/signin-link   -> { url } (a one-time sign-in link)

/**
 * Who may reach a port through the port proxy: `private` the environment's owner (the default),
 * `org` any member of its organisation, `public` anyone (only where the organisation allows it).
 */
export type PortVisibility = "private" | "org" | "public";
export const PORT_VISIBILITIES: readonly PortVisibility[] = ["private", "org", "public"];

/** An organisation's policy on public ports (`warren quota set --public-ports`); default deny. */
export type PublicPortsPolicy = "allow" | "deny";

export interface EnvPort {
  port: number;
  /** Something listens on it now, as detected in the environment's network namespace. */
  listening: boolean;
  /** The local addresses it listens on ("0.0.0.0", "::", "127.0.0.1"); empty when not listening. */
  addresses: string[];
  /** The listening process's name, when it could be told. */
  process?: string;
  visibility: PortVisibility;
  /** The port's URL on the port proxy; absent when the server runs no proxy. */
  url?: string;
  /** When and by whom the visibility was last set; absent for a port left at the default. */
  updatedAt?: string;
  updatedBy?: string;
  /** devcontainer.json's portsAttributes label, for a port it forwards. */
  label?: string;
  /** Listed in devcontainer.json's forwardPorts (always private until its owner says otherwise). */
  forwarded?: boolean;
}

export interface EnvPortList {
  /** Detected listening ports and ports with a stored visibility, by port. */
  items: EnvPort[];
  /** False when the environment is not running: nothing could be detected. */
  running: boolean;
  /** The organisation's policy on public ports. */
  publicPorts: PublicPortsPolicy;
}

export interface SetPortRequest {
  visibility: PortVisibility;
}

/** Part of ApiClient (api.ts). */
export interface PortClient {
  listEnvPorts(env: string): Promise<EnvPortList>;
  setEnvPort(env: string, port: number, req: SetPortRequest): Promise<EnvPort>;
  /** A sign-in link for a private or org port, valid once and briefly (the port proxy's sign-in). */
  portSigninLink(env: string, port: number): Promise<{ url: string; expiresAt?: string }>;
}
