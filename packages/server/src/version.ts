// One version for the server and the clients' User-Agent (protocol version.ts).
export { WARREN_VERSION } from "@warren/protocol";
