// Well-known locations shared by the CLI and the daemon.
export const DEFAULT_SOCKET = "/run/warren/warren.sock";
export const API_PREFIX = "/api/v1";

export function socketPath(): string {
  return process.env["WARREN_SOCKET"] ?? DEFAULT_SOCKET;
}
