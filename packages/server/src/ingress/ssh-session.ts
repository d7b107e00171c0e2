// SSH `session` channels: a shell with or without a pty, exec, and the sftp subsystem.
// - pty-req's terminal type and size are used when the command starts; window-change resizes it;
// - env/SetEnv is allow-listed (LANG, LC_*, TERM, COLORTERM); anything else is ignored, so a
//   client cannot set LD_PRELOAD, PATH or a secret's name;
// - `signal` requests reach the command (the signals RFC 4254 names);
// - `auth-agent-req@openssh.com` (ssh -A) starts a forwarded agent socket inside the environment
//   (ingress/ssh-agent-forward.ts) whose path the command gets as SSH_AUTH_SOCK;
// - the commands run as `warren shell` and `warren exec` run them: the environment's user, its
//   secrets, in /workspaces/NAME; bash when the image has it, like a login shell would be.
import { checkExecEnv, type ExecRequest } from "@warren/protocol";
import type { AcceptConnection, RejectConnection, ServerChannel, Session } from "ssh2";
import type { SshConn } from "./ssh-conn.ts";
import { type BridgedExec, bridgeExec, WARREN_FAILURE_STATUS } from "./ssh-exec-bridge.ts";

/** The environment variables a client may pass (OpenSSH's AcceptEnv in most distributions). */
export function allowedEnvName(name: string): boolean {
  return name === "LANG" || name === "TERM" || name === "COLORTERM" || /^LC_[A-Z_]{1,32}$/.test(name);
}

const MAX_ENV_VALUE = 256;
const MAX_ENV_VARS = 32;
/** The signals RFC 4254 lets a client send, without the SIG prefix. */
const SIGNALS = new Set([
  "ABRT",
  "ALRM",
  "FPE",
  "HUP",
  "ILL",
  "INT",
  "KILL",
  "PIPE",
  "QUIT",
  "SEGV",
  "TERM",
  "USR1",
  "USR2",
]);
const MAX_DIM = 10_000;

/** A login shell: bash if the image has it, else sh (what `warren shell` runs). */
export const LOGIN_SHELL = ["/bin/sh", "-c", "command -v bash >/dev/null && exec bash -l || exec sh -l"];

/** The client's command line, run by bash if the image has it, else sh (sshd runs `$SHELL -c`). */
export function execCommand(command: string): string[] {
  return [
    "/bin/sh",
    "-c",
    'command -v bash >/dev/null && exec bash -c "$1" || exec sh -c "$1"',
    "sh",
    command,
  ];
}

const dim = (n: unknown): number | undefined =>
  typeof n === "number" && Number.isInteger(n) && n > 0 && n <= MAX_DIM ? n : undefined;

export function handleSession(accept: AcceptConnection<Session>, reject: RejectConnection, c: SshConn): void {
  if (c.ending) {
    reject();
    return;
  }
  const session = accept();
  let pty: { term: string; cols?: number; rows?: number } | undefined;
  const env: Record<string, string> = {};
  let agent = false;
  let started = false;
  let running: BridgedExec | undefined;

  session.on("pty", (ok, no, info) => {
    if (started) return no?.();
    const term =
      typeof info.term === "string" && /^[A-Za-z0-9._+-]{1,64}$/.test(info.term) ? info.term : "xterm";
    pty = { term };
    const cols = dim(info.cols);
    const rows = dim(info.rows);
    if (cols) pty.cols = cols;
    if (rows) pty.rows = rows;
    ok?.();
  });
  session.on("window-change", (ok, _no, info) => {
    const cols = dim(info.cols);
    const rows = dim(info.rows);
    if (cols && rows) {
      if (running?.session) running.session.resize(cols, rows);
      else if (pty) Object.assign(pty, { cols, rows });
    }
    ok?.();
  });
  session.on("env", (ok, no, info) => {
    const key = String(info.key);
    const val = String(info.val);
    if (
      started ||
      !allowedEnvName(key) ||
      val.length > MAX_ENV_VALUE ||
      Object.keys(env).length >= MAX_ENV_VARS
    ) {
      c.log.debug({ key: key.slice(0, 64) }, "SSH session: environment variable not accepted");
      return no?.();
    }
    try {
      checkExecEnv({ [key]: val });
    } catch {
      return no?.();
    }
    env[key] = val;
    ok?.();
  });
  session.on("signal", (ok, no, info) => {
    const name = String(info.name).replace(/^SIG/, "");
    const s = running?.session;
    if (!SIGNALS.has(name) || !s) return no?.();
    s.signal(`SIG${name}` as NodeJS.Signals);
    ok?.();
  });
  session.on("auth-agent", (ok, no) => {
    if (started) return no?.();
    agent = true;
    ok?.();
  });
  session.on("x11", (_ok, no) => no?.());

  const run = (
    acceptChannel: AcceptConnection<ServerChannel>,
    no: RejectConnection | undefined,
    cmd: string[],
  ) => {
    if (started || c.ending) return no?.();
    started = true;
    const channel = acceptChannel();
    if (!channel) return;
    const req: ExecRequest = { cmd, tty: pty !== undefined, env: { ...env } };
    if (pty) c.attached?.();
    if (pty) {
      req.env = { ...req.env, TERM: env["TERM"] ?? pty.term };
      if (pty.cols) req.cols = pty.cols;
      if (pty.rows) req.rows = pty.rows;
    }
    let closeAgent: (() => void) | undefined;
    running = bridgeExec(channel, c, req, {
      // The agent socket is made once the environment runs, right before the command starts.
      before: agent
        ? async () => {
            const { startAgentForward } = await import("./ssh-agent-forward.ts");
            const fwd = await startAgentForward(c.target, () => c.openAgentChannel(), c.log);
            closeAgent = () => fwd.close();
            return { env: { SSH_AUTH_SOCK: fwd.socketPath } };
          }
        : undefined,
      after: () => closeAgent?.(),
    });
  };
  session.on("shell", (ok, no) => run(ok, no, LOGIN_SHELL));
  session.on("exec", (ok, no, info) => run(ok, no, execCommand(String(info.command))));
  session.on("subsystem", (ok, no, info) => {
    if (info.name !== "sftp" || started || c.ending) return no?.();
    started = true;
    const channel = ok();
    if (!channel) return;
    channel.on("error", (err: Error) => c.log.debug({ err }, "SSH sftp channel error"));
    const untrack = c.track({ notify: () => {}, stop: () => channel.close() });
    channel.once("close", untrack);
    const serve = async () => {
      await c.ready();
      const { serveSftp } = await import("./ssh-sftp.ts");
      serveSftp(c.target, channel, c.log);
    };
    serve().catch((err: unknown) => {
      c.log.info({ err, env: c.target.envName }, "SSH sftp: could not start");
      try {
        channel.exit(WARREN_FAILURE_STATUS);
      } catch {}
      channel.end();
    });
  });
  session.on("error", (err: Error) => c.log.debug({ err }, "SSH session error"));
}
