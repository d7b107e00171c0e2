// The SshEnvTarget (ingress/ssh-context.ts) of one authenticated login: exec and dial go through
// the environment services with the login's actor, so each is authorised again (the environment
// may have been deleted, or handed to someone else, since the login) and follows exec's rules.
import type { EnvironmentService } from "../services/environments.ts";
import type { SshLogin } from "./ssh-auth.ts";
import type { SshEnvTarget } from "./ssh-context.ts";

export function sshTarget(login: SshLogin, envs: Pick<EnvironmentService, "exec" | "dial">): SshEnvTarget {
  const { actor, env } = login;
  return {
    envId: env.id,
    envName: env.name,
    orgId: env.orgId,
    actor,
    keyId: login.keyId,
    // By id: a rename or a new environment of the same name never redirects a live login.
    exec: (req, h) => envs.exec(actor, env.id, req, h),
    dial: (port, host) => envs.dial(actor, env.id, port, host),
  };
}
