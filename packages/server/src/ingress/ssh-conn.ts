// What the channel handlers of one authenticated SSH connection share (ingress/ssh-gateway.ts
// builds it): the login's target, waking, the agent channel, and the list of open channels that a
// revocation tells why before it drops the connection.
import type { Duplex } from "node:stream";
import { WarrenError } from "@warren/protocol";
import type { Logger } from "../logger.ts";
import type { SshEnvTarget } from "./ssh-context.ts";

export interface OpenChannel {
  /** Best effort: a line on the channel's stderr (sessions), nothing for a forwarded port. */
  notify(message: string): void;
  /** Ends the channel's work (kills its command, closes its socket). */
  stop(): void;
}

export interface SshConn {
  target: SshEnvTarget;
  log: Logger;
  /** Resolves once the environment runs, starting a stopped one (bounded); shared by the channels. */
  ready(): Promise<void>;
  /** Asks the client for an `auth-agent@openssh.com` channel (for `ssh -A`). */
  openAgentChannel(): Promise<Duplex>;
  /** Registers a channel; the returned function forgets it. */
  track(c: OpenChannel): () => void;
  /** The connection is being ended: no new channel may start work. */
  readonly ending: boolean;
  /** Channel data in either direction: use of the environment for idle stop (cheap, batched). */
  activity?: (() => void) | undefined;
  /** An interactive session (a pty) began: a repository environment runs postAttachCommand. */
  attached?: (() => void) | undefined;
}

/** A client-facing line for a failure: Warren's own message, never a stack. */
export function failureText(err: unknown): string {
  if (err instanceof WarrenError) return err.message;
  return "the gateway could not do that; see the daemon's log";
}
