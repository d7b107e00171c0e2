// warren up: create (or start) an environment, then run a command in it, open a shell, or print it.
// Idempotent like `docker compose up`: the same spec again starts and attaches to the existing one.
import {
  type ApiClient,
  type CreateEnvRequest,
  checkEnvUser,
  checkResourceLimit,
  DEFAULT_IMAGE,
  isWarrenError,
  normalizeProject,
  WarrenError,
} from "@warren/protocol";
import { generateName } from "@warren/server/names";
import { attach } from "../attach.ts";
import { connect } from "../connect.ts";
import { checkFailed } from "../failed.ts";
import { envTable, printJson } from "../format.ts";
import { explainInterrupt } from "../interrupt.ts";
import { checkIdleTimeout, checkName, checkRuntime, checkSize, parseCpus } from "../options.ts";
import { progressDisplay } from "../progress.ts";
import { pullIfMissing } from "../pull-missing.ts";
import type { RunContext } from "../run.ts";
import { checkUpCombination } from "../up-flags.ts";
import { openShell } from "./shell.ts";

export interface UpOptions {
  name?: string;
  class?: string;
  image?: string;
  cpus?: string;
  memory?: string;
  disk?: string;
  runtime?: string;
  project?: string;
  user?: string;
  idleTimeout?: string;
  detach?: boolean;
  json?: boolean;
  repo?: string;
  branch?: string;
  devcontainer?: string;
  knownHost?: string[];
  yes?: boolean;
}

export function createRequest(o: UpOptions): CreateEnvRequest {
  const req: CreateEnvRequest = {};
  if (o.name !== undefined) req.name = checkName(o.name);
  if (o.class !== undefined) req.className = checkName(o.class, "class");
  if (o.image !== undefined) req.image = o.image;
  if (o.cpus !== undefined) req.cpus = parseCpus(o.cpus);
  // The daemon checks these limits too; checked here so a bad size fails before the base image is built.
  if (o.cpus !== undefined) checkResourceLimit("cpus", req.cpus!, "--cpus");
  if (o.memory !== undefined) req.memory = checkSize(o.memory, "--memory", "memory");
  if (o.disk !== undefined) req.disk = checkSize(o.disk, "--disk", "disk");
  if (o.runtime !== undefined) req.runtime = checkRuntime(o.runtime);
  // Checked here so a bad URL fails before the base image is built; the daemon normalizes again.
  if (o.project !== undefined) req.project = normalizeProject(o.project);
  if (o.user !== undefined) req.user = checkEnvUser(o.user);
  if (o.idleTimeout !== undefined) req.idleTimeout = checkIdleTimeout(o.idleTimeout);
  return req;
}

export async function upCommand(cmd: string[], o: UpOptions, ctx: RunContext) {
  checkUpCombination(cmd, o);
  const req = createRequest(o);
  // --json asks for output to parse, so it never opens an interactive shell.
  const interactive = !o.detach && !o.json && process.stdin.isTTY && process.stdout.isTTY;
  const then = cmd.length > 0 ? "exec" : interactive ? "shell" : "print";
  const client = await connect();
  // From here on a failure is Warren's, not the command's: 125 when the caller expects a status.
  if (then !== "print") ctx.mode = "exec";

  if (o.repo !== undefined) {
    const { repoSource, runInitializeCommand } = await import("../up-repo.ts");
    const r = await repoSource(client, { ...o, repo: o.repo });
    await runInitializeCommand(r.local, { ...o, repo: o.repo });
    req.repo = r.source;
    // Project secrets (the clone's credentials among them) follow the repository.
    if (req.project === undefined && r.project !== undefined) req.project = normalizeProject(r.project);
  } else if (o.branch !== undefined || o.devcontainer !== undefined || o.knownHost !== undefined) {
    throw new WarrenError("INVALID_ARGUMENT", "--branch, --devcontainer and --known-host go with --repo");
  }
  if (req.repo !== undefined) await ensureBaseImage(client);
  else if ((req.image ?? DEFAULT_IMAGE) === DEFAULT_IMAGE) await ensureBaseImage(client);
  else if (req.image !== undefined) req.image = await pullIfMissing(client, req.image);
  // Named here rather than by the daemon, so that a create cut off by a daemon restart can be
  // sent again and find what the first attempt made (client-retry.ts) instead of making another.
  const named = req.name !== undefined;
  req.name ??= generateName();
  let retried = false;
  // Once sent, the create goes on in the daemon whatever happens here: a Ctrl-C says so.
  const settled = explainInterrupt(
    `environment ${req.name} is still being created; \`warren rm -f ${req.name}\` removes it`,
  );
  const outcome = await client
    .createEnvironment(req, {
      onRetry: () => {
        retried = true;
      },
    })
    .catch((err: unknown) => {
      throw whatWasLeft(err, req.name!);
    })
    .finally(settled);
  let env = checkFailed(outcome.env);
  if (env.setup) {
    const { waitForSetup } = await import("../setup-wait.ts");
    env = await waitForSetup(client, env.name, {
      interactive: then === "shell",
      quiet: o.json === true,
      fromStart: outcome.created,
    });
  }
  if (then !== "print" || !o.json) {
    // After a retry, "exists" may be this call's own first attempt: only an unnamed one is sure.
    const how = outcome.created || (retried && !named) ? "created" : "using existing";
    const note = retried ? " after the daemon restarted" : "";
    process.stderr.write(`warren: ${how} environment ${env.name} (${env.state})${note}\n`);
  }

  // Without a cwd the control plane picks /workspaces/NAME, or devcontainer.json's workspaceFolder.
  if (then === "exec") return attach(client, env.name, { cmd, tty: false });
  if (then === "shell") return openShell(client, env.name);
  if (o.json) printJson(env);
  else process.stdout.write(envTable([env]));
  return 0;
}

/** A create that failed for want of a daemon may still have made the environment: say which. */
function whatWasLeft(err: unknown, name: string): unknown {
  if (!isWarrenError(err, "DAEMON_UNAVAILABLE")) return err;
  return new WarrenError(
    "DAEMON_UNAVAILABLE",
    `${err.message}; environment ${name} may have been created: see \`warren ls\`, and remove it with \`warren rm -f ${name}\` if you do not want it`,
    { ...(err.details ?? {}), name },
  );
}

/** The default image is built on first use; that takes a while, so show progress. */
async function ensureBaseImage(client: ApiClient): Promise<void> {
  const images = await client.listImages();
  if (images.some((i) => i.ref === DEFAULT_IMAGE)) return;
  process.stderr.write(`warren: building the base image ${DEFAULT_IMAGE} (first use only)\n`);
  const progress = progressDisplay(process.stderr);
  try {
    await client.ensureBaseImage(undefined, progress.update);
  } finally {
    progress.finish();
  }
}
