// The peer for bench/ssh: OpenSSH's sshd installed and started INSIDE the environment, so it runs
// in the environment's sandbox (user namespace, cgroup, seccomp) like every other image binary,
// and reached from the host at the environment's IP over its veth.
//
// Warren's firewall drops all host <-> environment traffic by design (its input and output chains
// end in `iifgroup/oifgroup G drop`). The bench opens one narrow pinhole in its OWN run's table
// (a private prefix that teardown deletes): new connections from the host to ENV_IP:PORT and
// the established replies from that port. Nothing else changes.
import type { Harness } from "@warren/testing/e2e-harness";
import { envIp, execIn, openPinhole } from "../lib/env-pinhole.ts";

const COMMENT = "warren-bench-ssh";

export interface SshdPeer {
  ip: string;
  port: number;
  /** "ssh-ed25519 AAAA..." of the sshd inside, for pinning. */
  hostKey: string;
  /** Removes the firewall pinhole (sshd dies with the environment). */
  close(): void;
}

export function startSshdInEnv(h: Harness, env: string, authorizedKey: string, port: number): SshdPeer {
  // The base image has no openssh-server; install it from the image's own apt sources, through the
  // environment's egress (which must reach the Debian mirror).
  execIn(
    h,
    env,
    "test -x /usr/sbin/sshd || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends openssh-server; } >/tmp/apt-bench.log 2>&1 || { tail -20 /tmp/apt-bench.log; exit 1; }",
    "installing openssh-server (the environment's egress must reach the Debian mirror in its /etc/apt/sources.list)",
  );
  // Host keys are made by the package's postinst; -A fills in any that are missing. sshd forks
  // into the background and outlives this exec, inside the environment's cgroup.
  const hostKey = execIn(
    h,
    env,
    [
      "set -e",
      "ssh-keygen -A >/dev/null",
      "mkdir -p /run/sshd /root/.ssh",
      "chmod 700 /root/.ssh",
      "cat > /root/.ssh/authorized_keys",
      "chmod 600 /root/.ssh/authorized_keys",
      `/usr/sbin/sshd -p ${port} -E /var/log/sshd-bench.log`,
      "cut -d' ' -f1,2 /etc/ssh/ssh_host_ed25519_key.pub",
    ].join("\n"),
    "starting sshd",
    authorizedKey,
  ).trim();
  const ip = envIp(h, env);
  const close = openPinhole(h, ip, port, COMMENT);
  return { ip, port, hostKey, close };
}
