// Opening an `auth-agent@openssh.com` channel to the client (ssh -A): each connection to the
// forwarded agent socket inside the environment becomes one such channel, which the client
// connects to its local agent.
//
// ssh2's server connection opens only forwarded-tcpip, x11 and forwarded-streamlocal channels
// itself; its protocol layer can send this channel's open, and the connection's channel table
// turns the client's confirmation into an ordinary Channel, as for the others. Both are internal
// to ssh2 1.x, so their absence is reported as a plain failure rather than assumed.
import type { Duplex } from "node:stream";
import type { Connection } from "ssh2";

/** ssh2's Channel.js defaults, which its own channel opens use. */
const MAX_WINDOW = 2 * 1024 * 1024;
const PACKET_SIZE = 32 * 1024;

interface Internals {
  _chanMgr?: { add(v: unknown): number; remove(id: number): void };
  _protocol?: { openssh_authAgent?(chan: number, window: number, packet: number): void };
}

export function openAgentChannel(conn: Connection): Promise<Duplex> {
  const inner = conn as unknown as Internals;
  const mgr = inner._chanMgr;
  const proto = inner._protocol;
  if (!mgr || typeof proto?.openssh_authAgent !== "function") {
    return Promise.reject(new Error("this ssh2 version cannot open agent channels"));
  }
  return new Promise<Duplex>((resolve, reject) => {
    const opened = (err: Error | undefined, channel: Duplex) => {
      if (err) reject(new Error(`the client refused the agent channel: ${err.message}`));
      else resolve(channel);
    };
    // The channel table keys a pending open by this callback and reads its type on confirmation.
    (opened as unknown as { type: string }).type = "auth-agent@openssh.com";
    const id = mgr.add(opened);
    if (id === -1) {
      reject(new Error("no free SSH channels on this connection"));
      return;
    }
    try {
      proto.openssh_authAgent?.(id, MAX_WINDOW, PACKET_SIZE);
    } catch (err) {
      mgr.remove(id);
      reject(err as Error);
    }
  });
}
