// Warren's version, shared by the server (health, OpenAPI) and the clients' User-Agent. A constant,
// not a read of package.json, so importing it does no I/O; a test keeps it equal to the CLI's
// package.json version, which `warren version` prints.
export const WARREN_VERSION = "0.1.0";

/**
 * What the API client sends as User-Agent. The server shows it to people, e.g. on the OIDC
 * device-flow confirmation page ("the client"), where Node's default would just say "node".
 */
export const CLIENT_USER_AGENT = `warren-cli/${WARREN_VERSION}`;
