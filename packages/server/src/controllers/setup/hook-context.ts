// Lifecycle hooks (devcontainer.json onCreate/updateContent/postCreate/postStart/postAttach),
// run inside the environment as its remote user, in its workspace folder, with remoteEnv on top
// of the user's login environment (userEnvProbe). A string runs with /bin/sh -c, an array as is,
// an object's entries in parallel. A failing hook stops the hooks after it, never the environment.
import type { HookRun, LifecycleCommand, LifecycleHookName, RunnerApi } from "@warren/protocol";
import { execRun } from "./exec-run.ts";
import type { StepLog } from "./step-log.ts";

export interface HookContext {
  runner: RunnerApi;
  envId: string;
  user?: string;
  cwd: string;
  log: StepLog;
  now: () => string;
  /** Saves each run as it starts and ends (the controller writes the setup row). */
  record: (run: HookRun) => Promise<void>;
}

export const CREATE_HOOKS: LifecycleHookName[] = [
  "onCreateCommand",
  "updateContentCommand",
  "postCreateCommand",
];

type Merged = Partial<Record<`${LifecycleHookName}s`, LifecycleCommand[]>> & {
  remoteEnv?: Record<string, string | null>;
  userEnvProbe?: string;
  waitFor?: string;
};

export function hookCommands(merged: Merged, hook: LifecycleHookName): LifecycleCommand[] {
  const list = merged[`${hook}s`];
  return Array.isArray(list) ? list.filter((c) => c !== undefined && c !== null && c !== "") : [];
}

/** The argv lists one LifecycleCommand runs, in parallel when it is an object. */
export function argvs(cmd: LifecycleCommand): { label?: string; argv: string[] }[] {
  if (typeof cmd === "string") return [{ argv: ["/bin/sh", "-c", cmd] }];
  if (Array.isArray(cmd)) return cmd.length ? [{ argv: cmd.map(String) }] : [];
  return Object.entries(cmd).flatMap(([label, c]) =>
    (typeof c === "string"
      ? [["/bin/sh", "-c", c]]
      : Array.isArray(c) && c.length
        ? [c.map(String)]
        : []
    ).map((argv) => ({
      label,
      argv,
    })),
  );
}

const PROBE_FLAGS: Record<string, string | undefined> = {
  loginInteractiveShell: "-lic",
  loginShell: "-lc",
  interactiveShell: "-ic",
  none: undefined,
};

/** The user's environment as their shell sets it up (default: a login interactive shell). */
export async function probeEnv(
  ctx: HookContext,
  probe = "loginInteractiveShell",
): Promise<Record<string, string>> {
  const flags = PROBE_FLAGS[probe];
  if (!flags) return {};
  const script = `sh_=$(getent passwd "$(id -un)" | cut -d: -f7); [ -x "$sh_" ] || sh_=/bin/sh; exec "$sh_" ${flags} 'cat /proc/self/environ' </dev/null 2>/dev/null`;
  const r = await execRun(
    ctx.runner,
    ctx.envId,
    { cmd: ["/bin/sh", "-c", script], ...(ctx.user ? { user: ctx.user } : {}), cwd: ctx.cwd },
    { keepStdout: 256 * 1024, timeoutMs: 10_000 },
  ).catch(() => undefined);
  if (r?.exitCode !== 0) return {};
  const env: Record<string, string> = {};
  for (const pair of r.stdout.toString("utf8").split("\0")) {
    const i = pair.indexOf("=");
    if (i > 0 && /^[A-Za-z_][A-Za-z0-9_]*$/.test(pair.slice(0, i))) env[pair.slice(0, i)] = pair.slice(i + 1);
  }
  // What the exec itself sets must not be pinned from the probe's process.
  for (const k of ["PWD", "OLDPWD", "SHLVL", "_"]) delete env[k];
  return env;
}

export function remoteEnvOf(merged: Merged, probed: Record<string, string>): Record<string, string> {
  const env = { ...probed };
  for (const [k, v] of Object.entries(merged.remoteEnv ?? {})) {
    if (v === null) delete env[k];
    else env[k] = v;
  }
  return env;
}

/** Runs one hook (all its sources in order); the exit status of the first failure, or 0. */
export async function runHook(
  ctx: HookContext,
  merged: Merged,
  hook: LifecycleHookName,
  env: Record<string, string>,
): Promise<number | undefined> {
  const cmds = hookCommands(merged, hook);
  if (cmds.length === 0) return undefined;
  const startedAt = ctx.now();
  await ctx.record({ name: hook, state: "running", startedAt });
  ctx.log(hook, `running ${hook}`);
  let exit = 0;
  for (const cmd of cmds) {
    const runs = argvs(cmd);
    const codes = await Promise.all(
      runs.map(async ({ label, argv }) => {
        const step = label ? `${hook}:${label}` : hook;
        const r = await execRun(
          ctx.runner,
          ctx.envId,
          { cmd: argv, ...(ctx.user ? { user: ctx.user } : {}), cwd: ctx.cwd, env },
          { onLine: (line) => ctx.log(step, line) },
        ).catch((err: Error) => {
          ctx.log(step, `could not run: ${err.message}`);
          return { exitCode: 125 };
        });
        return r.exitCode;
      }),
    );
    exit = codes.find((c) => c !== 0) ?? 0;
    if (exit !== 0) break;
  }
  ctx.log(hook, exit === 0 ? `${hook} done` : `${hook} failed: exit ${exit}`);
  await ctx.record({
    name: hook,
    state: exit === 0 ? "done" : "failed",
    exitCode: exit,
    startedAt,
    finishedAt: ctx.now(),
  });
  await ctx.log.flush();
  return exit;
}
