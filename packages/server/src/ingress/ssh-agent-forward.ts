// Agent forwarding (`ssh -A`): a socket inside the environment that programs there (git, ssh) use
// as SSH_AUTH_SOCK, each connection carried to the client's agent over an auth-agent@openssh.com
// channel. The socket is made and served by warren-relay running inside the environment through
// exec, as the environment's user, in a fresh 0700 directory under its own /tmp: the host never
// creates or opens a path inside the environment, and other users there cannot reach the socket.
import { randomBytes } from "node:crypto";
import type { Duplex } from "node:stream";
import type { Logger } from "../logger.ts";
import { execDuplex } from "./exec-duplex.ts";
import { demuxRelay, RELAY_IN_ENV } from "./relay-mux.ts";
import type { SshEnvTarget } from "./ssh-context.ts";

/** How long the relay may take to have its socket listening. */
const READY_TIMEOUT_MS = 15_000;
const STDERR_KEEP = 2048;

export interface AgentForward {
  /** The socket inside the environment: the session's SSH_AUTH_SOCK. */
  socketPath: string;
  /** Stops the relay, which removes the socket and its directory. */
  close(): void;
}

export async function startAgentForward(
  target: SshEnvTarget,
  openAgentChannel: () => Promise<Duplex>,
  log: Logger,
): Promise<AgentForward> {
  const dir = `/tmp/warren-agent-${randomBytes(8).toString("hex")}`;
  const socketPath = `${dir}/agent.sock`;
  let stderr = "";
  const proc = await execDuplex(
    target,
    { cmd: [RELAY_IN_ENV, "listen", socketPath], tty: false, helper: true },
    {
      onStderr: (d) => {
        if (stderr.length < STDERR_KEEP) stderr += Buffer.from(d).toString("utf8").slice(0, STDERR_KEEP);
      },
    },
  );
  const mux = demuxRelay(
    proc,
    () => stderr,
    (conn) => {
      // One agent channel per connection, as OpenSSH's sshd opens one per accepted connection.
      openAgentChannel().then(
        (channel) => {
          conn.pipe(channel);
          channel.pipe(conn);
          // An orderly end travels through the pipes, after what is still buffered is written;
          // only an abort (closed before its data ended) cuts the other side, or the tail is lost.
          channel.once("close", () => channel.readableEnded || conn.destroy());
          conn.once("close", () => conn.readableEnded || channel.destroy());
          channel.on("error", () => conn.destroy());
        },
        (err: unknown) => {
          log.debug({ envId: target.envId, err: (err as Error).message }, "ssh: agent channel refused");
          conn.destroy();
        },
      );
      conn.on("error", () => undefined);
    },
  );
  const close = () => {
    // End of stdin is the relay's signal to remove its socket and exit.
    if (!proc.stream.writableEnded) proc.stream.end();
  };
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      mux.ready,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`the agent socket was not ready within ${READY_TIMEOUT_MS / 1000} s`)),
          READY_TIMEOUT_MS,
        );
      }),
    ]);
  } catch (err) {
    proc.stream.destroy();
    throw new Error(`agent forwarding: ${explain(err as Error)}`);
  } finally {
    clearTimeout(timer);
  }
  void proc.exit.then(
    (code) => log.debug({ envId: target.envId, code }, "ssh: agent relay exited"),
    () => undefined,
  );
  return { socketPath, close };
}

function explain(err: Error): string {
  // An environment started before warren-relay existed has nothing at /.warren/relay.
  if (/\.warren\/relay/.test(err.message) && /no such file|not found/i.test(err.message)) {
    return "this environment was started before Warren placed its relay in environments: restart it (warren stop, then warren start)";
  }
  return err.message;
}
