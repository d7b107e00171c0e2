// warren ssh ENV [-i FILE] [-A] [-L SPEC]... [-t] [-- CMD [ARGS...]]: runs the system `ssh` to the
// environment through the SSH gateway, with the gateway's host key pinned (ssh-target.ts), so a
// real terminal, agent forwarding and port forwards are OpenSSH's own. The remote command's status
// passes through; OpenSSH's own failure (255: no connection, refused key, changed host key)
// becomes 125, Warren's failure status for exec-like commands (run.ts). A remote command that
// itself exits 255 therefore also shows as 125.
import { spawn } from "node:child_process";
import { constants } from "node:os";
import { type ApiClient, isWarrenError, WarrenError } from "@warren/protocol";
import { connect } from "../connect.ts";
import { EXIT_EXEC_FAILURE, type RunContext } from "../run.ts";
import { checkSshUser, resolveSshTarget, type SshTarget } from "../ssh-target.ts";

/** OpenSSH's status for its own failures, as opposed to the remote command's. */
export const SSH_FAILED = 255;

export interface SshOptions {
  /** A private key file, passed as `-i FILE` with IdentitiesOnly so agent keys are not tried first. */
  identity?: string;
  /** `-A`: the environment may use this machine's ssh-agent (e.g. for `git push`). */
  forwardAgent?: boolean;
  /** `-L` specs, e.g. 8080:localhost:8080. */
  localForward?: string[];
  /** `-t`: a terminal even for a command. */
  tty?: boolean;
}

/** OpenSSH's argv (without the program name) for reaching `user` through `target`. */
export function sshArgv(target: SshTarget, user: string, cmd: string[], opts: SshOptions = {}): string[] {
  const argv = [
    "-p",
    String(target.port),
    "-l",
    user,
    "-o",
    `UserKnownHostsFile=${target.knownHostsFile}`,
    "-o",
    "StrictHostKeyChecking=yes",
    // The file is Warren's: OpenSSH neither adds IP entries nor rewrites keys in it.
    "-o",
    "CheckHostIP=no",
    "-o",
    "UpdateHostKeys=no",
  ];
  if (opts.identity !== undefined) argv.push("-i", opts.identity, "-o", "IdentitiesOnly=yes");
  if (opts.forwardAgent) argv.push("-A");
  for (const spec of opts.localForward ?? []) argv.push("-L", spec);
  if (opts.tty) argv.push("-t");
  // `--` first: ssh parses options again after the host unless told not to, so a command such as
  // `ls -l` stays the remote command's.
  argv.push("--", target.host, ...cmd);
  return argv;
}

/** The status this command exits with for ssh's exit code or signal. */
export function exitStatusOf(code: number | null, signal: NodeJS.Signals | null): number {
  if (signal !== null) return 128 + (constants.signals[signal] ?? 0);
  if (code === SSH_FAILED || code === null) return EXIT_EXEC_FAILURE;
  return code;
}

/** Runs ssh in the foreground with this terminal; resolves with its exit code and signal. */
function runSsh(argv: string[]): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn("ssh", argv, { stdio: "inherit" });
    // ^C and ^\ reach ssh through the terminal's process group (or, in raw mode, as bytes to the
    // remote side): this process waits for ssh to finish, like a shell. TERM and HUP, which may
    // be sent to this process alone, are passed on.
    const ignore = () => {};
    const forward = (sig: NodeJS.Signals) => child.kill(sig);
    process.on("SIGINT", ignore);
    process.on("SIGQUIT", ignore);
    process.on("SIGTERM", forward);
    process.on("SIGHUP", forward);
    const done = () => {
      process.off("SIGINT", ignore);
      process.off("SIGQUIT", ignore);
      process.off("SIGTERM", forward);
      process.off("SIGHUP", forward);
    };
    child.on("error", (err: NodeJS.ErrnoException) => {
      done();
      reject(
        err.code === "ENOENT"
          ? new WarrenError(
              "INVALID_ARGUMENT",
              "cannot run ssh: OpenSSH's client is not installed (e.g. `apt install openssh-client`)",
            )
          : new WarrenError("INVALID_ARGUMENT", `cannot run ssh: ${err.message}`),
      );
    });
    child.on("exit", (code, signal) => {
      done();
      resolve({ code, signal });
    });
  });
}

export async function sshCommand(env: string, cmd: string[], opts: SshOptions, ctx: RunContext) {
  // Every way this fails on Warren's side exits 125, bad arguments included, as exec does.
  ctx.mode = "exec";
  const user = checkSshUser(env);
  for (const spec of opts.localForward ?? []) {
    if (spec === "" || spec.startsWith("-") || /\s/.test(spec)) {
      throw new WarrenError(
        "INVALID_ARGUMENT",
        `-L "${spec}" is not a forward: give [BIND:]PORT:HOST:HOSTPORT, e.g. 8080:localhost:8080`,
      );
    }
  }
  const client = await connect();
  const target = await resolveSshTarget(client);
  const { code, signal } = await runSsh(sshArgv(target, user, cmd, opts));
  const status = exitStatusOf(code, signal);
  if (code === SSH_FAILED) await explainFailure(client);
  return status;
}

/** After OpenSSH's own message: the likeliest fix Warren knows of. */
async function explainFailure(client: ApiClient): Promise<void> {
  let hint = "ssh failed (status 255); its message is above";
  try {
    if ((await client.listSshKeys()).length === 0) {
      hint = "you have no SSH key registered with Warren; add one with `warren ssh-key add`";
    }
  } catch (err) {
    if (!isWarrenError(err)) throw err;
  }
  process.stderr.write(`warren: ${hint}\n`);
}
