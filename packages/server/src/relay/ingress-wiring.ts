// Ingress relays wired for the daemon: both ends on every replica that runs relays. The serving
// end goes on the internal listener (relay.listen); the relaying end wraps the SSH gateway's
// login targets and the port proxy's dial.
import type { RunnerApi } from "@warren/protocol";
import type { FastifyBaseLogger } from "fastify";
import type { Clock } from "../clock.ts";
import type { Dial } from "../ingress/http-proxy-upstream.ts";
import type { SshLogin } from "../ingress/ssh-auth.ts";
import type { SshEnvTarget } from "../ingress/ssh-context.ts";
import type { RunnerHub } from "../runners/hub.ts";
import { storeCredentialCheck } from "../services/credential-check.ts";
import type { EnvironmentService } from "../services/environments.ts";
import { createPortTargetLookup } from "../services/port-targets.ts";
import type { PortService } from "../services/ports.ts";
import type { Db } from "../store/db.ts";
import { createIngressRelay } from "./ingress-relay.ts";
import { createIngressServer, type IngressUpgrade } from "./ingress-serve.ts";
import type { Relay } from "./relay.ts";

export interface IngressRelayParts {
  /** For relay.listen: the holder's end. */
  serve: IngressUpgrade;
  /** For the SSH gateway. */
  wrapTarget(t: SshEnvTarget, login: SshLogin): SshEnvTarget;
  /** For the port proxy. */
  dial: Dial;
}

export function ingressRelayParts(
  relay: Relay | undefined,
  o: {
    hub: Pick<RunnerHub, "ownership"> | undefined;
    db: Db;
    clock: Clock;
    envs: Pick<EnvironmentService, "find" | "exec" | "dial">;
    ports: Pick<PortService, "visibility" | "publicAllowed">;
    runner: Pick<RunnerApi, "dial">;
    logger: FastifyBaseLogger;
  },
): IngressRelayParts | undefined {
  const hub = o.hub;
  if (!relay || !hub) return undefined;
  const serve = createIngressServer({
    db: o.db,
    credentials: storeCredentialCheck(o.db, o.clock),
    ports: o.ports,
    targets: createPortTargetLookup({ db: o.db }),
    envs: o.envs,
    runner: o.runner,
    logger: o.logger.child({ component: "ingress-relay" }),
  });
  const relaying = createIngressRelay({ routing: relay.routing, ownership: (id) => hub.ownership(id) });
  return {
    serve,
    wrapTarget: (t, login) => relaying.sshTarget(t, login),
    dial: relaying.proxyDial((id, port) => o.runner.dial(id, port)),
  };
}
