// What the SSH section shows for an environment: the same user/host/port `warren ssh-config`
// writes (the SSH user is the environment's name), and the gateway's key for known_hosts.

export interface GatewayAddress {
  host: string;
  port: number;
  hostKey: string;
}

const WILDCARDS = new Set(["", "0.0.0.0", "::", "*"]);

/**
 * Where ssh connects: the gateway's own address, or, when it listens on every address, the host
 * this page was loaded from (as the CLI uses its context's host name).
 */
export function gatewayHost(listen: string, pageHostname: string): string {
  const bare = listen.replace(/^\[(.*)\]$/, "$1");
  return WILDCARDS.has(bare) ? pageHostname.replace(/^\[(.*)\]$/, "$1") : bare;
}

/** The lines for a shell, ~/.ssh/config and known_hosts; pure, for tests. */
export function sshSnippets(env: string, g: GatewayAddress, pageHostname: string) {
  const host = gatewayHost(g.host, pageHostname);
  const portArg = g.port === 22 ? "" : ` -p ${g.port}`;
  const hostPattern = g.port === 22 ? host : `[${host}]:${g.port}`;
  return {
    command: `ssh${portArg} ${env}@${host}`,
    config: [`Host ${env}.warren`, `  HostName ${host}`, `  Port ${g.port}`, `  User ${env}`, ""].join("\n"),
    knownHosts: `${hostPattern} ${g.hostKey}`,
  };
}
