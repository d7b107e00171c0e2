// What the SSH gateway's channel handlers get for one authenticated login: the environment it
// reached and the two ways into it. Both go through the control plane's services with the login's
// actor, so they follow exec's rules (the environment's user, its secrets, all its namespaces,
// cgroup, seccomp and capabilities) and never touch the environment's files from the host.
import type { Duplex } from "node:stream";
import type { ExecHandlers, ExecRequest, ExecSession } from "@warren/protocol";
import type { Actor } from "../services/actor.ts";

export interface SshEnvTarget {
  envId: string;
  envName: string;
  orgId: string;
  /** The person who logged in, as the services see them. */
  actor: Actor;
  /** The registered key the login used; removing it ends the session. */
  keyId: string;
  /** Runs a process inside the environment, exactly as `warren exec` does. */
  exec(req: ExecRequest, h: ExecHandlers): Promise<ExecSession>;
  /** A TCP connection made from inside the environment's network namespace. */
  dial(port: number, host?: string): Promise<Duplex>;
}
