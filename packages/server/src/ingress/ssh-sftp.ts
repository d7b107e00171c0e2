// The `sftp` subsystem (sftp, and OpenSSH 9's scp, which speaks sftp): the image's own sftp-server
// runs inside the environment through exec, as the environment's user with all its namespaces,
// cgroup and seccomp, and its stdio is the channel. Every path the client names is therefore
// resolved by a process inside the environment: a symlink there to /etc/shadow or to the daemon's
// socket reaches the environment's own file, never the host's.
import type { ServerChannel } from "ssh2";
import type { Logger } from "../logger.ts";
import { execDuplex } from "./exec-duplex.ts";
import type { SshEnvTarget } from "./ssh-context.ts";

/** Where distributions put sftp-server (Debian/Ubuntu, Alpine, Fedora/RHEL, SUSE). */
export const SFTP_SERVER_PATHS = [
  "/usr/lib/openssh/sftp-server",
  "/usr/lib/sftp-server",
  "/usr/libexec/openssh/sftp-server",
  "/usr/libexec/sftp-server",
  "/usr/lib/ssh/sftp-server",
];

/** Status when the image has no sftp-server (the shells' "command not found"). */
export const NO_SFTP_STATUS = 127;
export const NO_SFTP_MESSAGE =
  "warren: this image has no sftp-server, so sftp and scp cannot work in it: install it in the image " +
  "(Debian/Ubuntu: apt-get install openssh-sftp-server; Alpine: apk add openssh-sftp-server; " +
  "Fedora/RHEL: dnf install openssh-server)\n";

// One exec: the first sftp-server found replaces the shell; none found exits 127 without a word
// (the gateway says it, also for an image without /bin/sh, where init reports 127 itself).
const PROBE = `for p in ${SFTP_SERVER_PATHS.join(" ")}; do [ -x "$p" ] && exec "$p"; done; exit ${NO_SFTP_STATUS}`;

export function serveSftp(target: SshEnvTarget, channel: ServerChannel, log: Logger): void {
  void run(target, channel, log).catch((err: unknown) => {
    log.warn({ envId: target.envId, err: (err as Error).message }, "ssh: sftp failed");
    finish(channel, 125, `warren: sftp: ${(err as Error).message}\n`);
  });
}

async function run(target: SshEnvTarget, channel: ServerChannel, log: Logger): Promise<void> {
  let sawOutput = false;
  const proc = await execDuplex(
    target,
    { cmd: ["/bin/sh", "-c", PROBE], tty: false, helper: true },
    // sftp-server's own complaints go to the client's stderr, as sshd passes them.
    { onStderr: (d) => channel.stderr.write(d) },
  );
  // The client's bytes are the server's stdin; the client's EOF closes it.
  channel.pipe(proc.stream);
  proc.stream.pipe(channel, { end: false });
  proc.stream.once("data", () => {
    sawOutput = true;
  });
  // The client went away (or the session ended): stop the server.
  channel.once("close", () => proc.stream.destroy());
  proc.stream.on("error", () => undefined);

  const ended = new Promise<void>((resolve) => {
    proc.stream.once("end", resolve);
    proc.stream.once("close", resolve);
  });
  let code: number;
  try {
    code = await proc.exit;
  } catch (err) {
    log.warn({ envId: target.envId, err: (err as Error).message }, "ssh: sftp-server stream failed");
    finish(channel, 125, `warren: sftp: ${(err as Error).message}\n`);
    return;
  }
  await ended;
  if (code === NO_SFTP_STATUS && !sawOutput) {
    finish(channel, NO_SFTP_STATUS, NO_SFTP_MESSAGE);
    return;
  }
  finish(channel, code);
}

function finish(channel: ServerChannel, code: number, message?: string): void {
  if (channel.destroyed) return;
  if (message) channel.stderr.write(message);
  channel.exit(code);
  channel.end();
}
