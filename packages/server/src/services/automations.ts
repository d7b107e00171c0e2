// A repository's automations (.warren/automations.yaml) in its environment: services and tasks
// run by warren-supervise inside the environment, so host code never runs the image's binaries.
// startAutomations is the setup controller's step after each start's hooks; the rest serves
// `warren service ...` and `warren task ...`, with the same access as exec (the environment's
// owner and the organisation's admins; anyone else gets ENV_NOT_FOUND).

import { supervisorConfig } from "@warren/devcontainer";
import {
  type Automations,
  type AutomationTask,
  type RunnerExec,
  type ServiceAction,
  type ServiceList,
  type ServiceStatus,
  type TaskList,
  type TaskStatus,
  WarrenError,
} from "@warren/protocol";
import type { Db } from "../store/db.ts";
import type { EnvRow } from "../store/queries/envs.ts";
import { getSetupAutomations } from "../store/queries/setups.ts";
import type { Actor } from "./actor.ts";
import {
  asAutomations,
  linesOfLastRun,
  parseStatus,
  type SuperviseResult,
  supervise,
  supervisorAbsent,
  supervisorMessage,
  type UnitStatus,
} from "./automations-supervisor.ts";

export interface StartAutomationsOptions {
  /** Who services and tasks run as (remoteUser); default the environment's root. */
  user?: string;
  /** Their working directory (the workspace folder). */
  cwd: string;
  /** remoteEnv, on top of the environment's own. */
  env?: Record<string, string>;
  trigger: "postEnvironmentStart" | "postDevcontainerStart";
  log: (line: string) => void;
  /** How long to wait for the trigger's tasks; they carry on in the background after. Default 10 min. */
  timeoutMs?: number;
}

const CTL_TIMEOUT_MS = 30_000;
const LOG_TAIL = 200;

/**
 * Starts the environment's supervisor unless it already runs with these automations (its
 * services start in dependsOn order), then runs the tasks `trigger` starts, once per start of
 * the environment, and logs their output. Failed tasks are logged, not thrown: the environment
 * stays usable. Throws when the supervisor cannot be started.
 */
export async function startAutomations(
  runner: RunnerExec,
  envId: string,
  automations: Automations,
  opts: StartAutomationsOptions,
): Promise<void> {
  if (automations.services.length === 0 && automations.tasks.length === 0) return;
  const config = supervisorConfig(automations, {
    cwd: opts.cwd,
    ...(opts.user !== undefined ? { user: opts.user } : {}),
    ...(opts.env ? { env: opts.env } : {}),
  });
  // One round trip starts the supervisor (if needed) and the trigger's tasks.
  const up = await supervise(runner, envId, ["up", "--trigger", opts.trigger], {
    stdin: config,
    timeoutMs: CTL_TIMEOUT_MS,
  });
  if (up.code !== 0) {
    const why = supervisorMessage(up);
    throw new WarrenError(
      "ENV_FAILED",
      up.code === 126 || up.code === 127
        ? `automations: ${why}: this environment started before automations were supported; restart it (warren stop, warren start)`
        : `automations: the supervisor did not start: ${why}`,
    );
  }
  if (automations.services.length)
    opts.log(`services: ${automations.services.map((s) => s.name).join(", ")} (started in dependsOn order)`);
  const known = new Set(automations.tasks.map((t) => t.name));
  const names = up.stdout.split("\n").filter((n) => known.has(n));
  if (names.length === 0) return;
  opts.log(`${opts.trigger}: running ${names.join(", ")}`);
  const timeoutMs = opts.timeoutMs ?? 10 * 60_000;
  const wait = await supervise(
    runner,
    envId,
    ["ctl", "wait", "--timeout", String(Math.ceil(timeoutMs / 1000)), ...names],
    { timeoutMs: timeoutMs + CTL_TIMEOUT_MS },
  );
  // Only a failure needs the states: the exit statuses to report.
  const status =
    wait.code === 0
      ? new Map<string, UnitStatus>()
      : parseStatus((await supervise(runner, envId, ["ctl", "status"])).stdout, automations);
  for (const name of names) {
    const logs = await supervise(runner, envId, ["logs", name, "--tail", String(LOG_TAIL)]);
    for (const line of linesOfLastRun(logs.stdout, name)) opts.log(`${name}: ${line}`);
    const s = status.get(name);
    if (s?.state === "failed")
      opts.log(
        `task ${name} failed${s.exitCode !== undefined ? `: exit ${s.exitCode}` : ""}${s.message ? ` (${s.message})` : ""}`,
      );
  }
  if (wait.code === 3)
    opts.log(
      `tasks still running after ${Math.round(timeoutMs / 1000)} s go on in the background (warren task ls)`,
    );
}

export interface AutomationOps {
  listServices(a: Actor, env: string): Promise<ServiceList>;
  listTasks(a: Actor, env: string): Promise<TaskList>;
  serviceAction(a: Actor, env: string, service: string, action: ServiceAction): Promise<ServiceStatus>;
  /** Runs a task (its dependencies first) and answers once it has finished. */
  runTask(a: Actor, env: string, task: string): Promise<TaskStatus>;
  logs(a: Actor, env: string, kind: "service" | "task", name: string, tail?: number): Promise<string>;
}

export interface AutomationServiceDeps {
  envs: {
    find(a: Actor, nameOrId: string): Promise<EnvRow>;
    requireRunning(a: Actor, nameOrId: string): Promise<EnvRow>;
  };
  runner: RunnerExec;
  /** The parsed automations stored for the environment (store/queries/setups.ts). */
  automationsOf(envId: string): Promise<unknown>;
  /** How long `task run` waits for a task; default an hour. */
  taskTimeoutMs?: number;
}

const EMPTY: Automations = { services: [], tasks: [] };

function serviceStatus(s: Automations["services"][number], u: UnitStatus | undefined): ServiceStatus {
  const out: ServiceStatus = {
    name: s.name,
    state: (u?.state as ServiceStatus["state"]) ?? "idle",
    restarts: u?.restarts ?? 0,
    dependsOn: s.dependsOn,
  };
  if (s.description) out.description = s.description;
  if (u?.pid) out.pid = u.pid;
  if (u?.exitCode !== undefined) out.exitCode = u.exitCode;
  if (u?.message) out.message = u.message;
  return out;
}

function taskStatus(t: AutomationTask, u: UnitStatus | undefined): TaskStatus {
  const out: TaskStatus = {
    name: t.name,
    state: (u?.state as TaskStatus["state"]) ?? "idle",
    runs: u?.runs ?? 0,
    dependsOn: t.dependsOn,
    triggeredBy: t.triggeredBy,
  };
  if (t.description) out.description = t.description;
  if (u?.exitCode !== undefined) out.exitCode = u.exitCode;
  if (u?.message) out.message = u.message;
  return out;
}

export function createAutomationService(d: AutomationServiceDeps): AutomationOps {
  const automationsOf = async (row: EnvRow) => asAutomations(await d.automationsOf(row.id)) ?? EMPTY;

  /** What the supervisor reports; `running: false` when the environment or the supervisor is down. */
  async function status(row: EnvRow, a: Automations) {
    if (row.state !== "running" || (a.services.length === 0 && a.tasks.length === 0))
      return { running: false, units: new Map<string, UnitStatus>() };
    let r: SuperviseResult;
    try {
      r = await supervise(d.runner, row.id, ["ctl", "status"], { timeoutMs: CTL_TIMEOUT_MS });
    } catch (err) {
      if (err instanceof WarrenError && err.code === "ENV_NOT_RUNNING")
        return { running: false, units: new Map<string, UnitStatus>() };
      throw err;
    }
    if (r.code !== 0) return { running: false, units: new Map<string, UnitStatus>() };
    return { running: true, units: parseStatus(r.stdout, a) };
  }

  /** A running environment with a running supervisor, and the named unit of the right kind. */
  async function target(a: Actor, env: string, kind: "service" | "task", name: string) {
    const row = await d.envs.requireRunning(a, env);
    const autos = await automationsOf(row);
    const list: { name: string }[] = kind === "service" ? autos.services : autos.tasks;
    if (!list.some((u) => u.name === name)) {
      const names = list.map((u) => u.name).join(", ") || "none";
      throw new WarrenError(
        "INVALID_ARGUMENT",
        `${row.name} has no ${kind} named "${name}" (its ${kind}s: ${names}); \`warren ${kind} ls ${row.name}\` lists them`,
        { field: kind },
      );
    }
    return { row, autos };
  }

  async function ctl(row: EnvRow, args: string[], timeoutMs = CTL_TIMEOUT_MS): Promise<SuperviseResult> {
    const r = await supervise(d.runner, row.id, args, { timeoutMs });
    if (supervisorAbsent(r))
      throw new WarrenError(
        "ENV_NOT_RUNNING",
        `the automations of ${row.name} are not running: they start after its setup, on every start (\`warren logs ${row.name}\` shows why not)`,
      );
    return r;
  }

  return {
    async listServices(a, env) {
      const row = await d.envs.find(a, env);
      const autos = await automationsOf(row);
      const { running, units } = await status(row, autos);
      return { running, items: autos.services.map((s) => serviceStatus(s, units.get(s.name))) };
    },

    async listTasks(a, env) {
      const row = await d.envs.find(a, env);
      const autos = await automationsOf(row);
      const { running, units } = await status(row, autos);
      return { running, items: autos.tasks.map((t) => taskStatus(t, units.get(t.name))) };
    },

    async serviceAction(a, env, service, action) {
      const { row, autos } = await target(a, env, "service", service);
      const r = await ctl(row, ["ctl", action, service]);
      if (r.code !== 0) throw new WarrenError("ENV_FAILED", `${action} ${service}: ${supervisorMessage(r)}`);
      const { units } = await status(row, autos);
      const s = autos.services.find((x) => x.name === service) as Automations["services"][number];
      return serviceStatus(s, units.get(service));
    },

    async runTask(a, env, task) {
      const { row, autos } = await target(a, env, "task", task);
      const r = await ctl(row, ["ctl", "run", task]);
      if (r.code !== 0) throw new WarrenError("ENV_FAILED", `run ${task}: ${supervisorMessage(r)}`);
      const limit = d.taskTimeoutMs ?? 3_600_000;
      const w = await ctl(
        row,
        ["ctl", "wait", "--timeout", String(Math.ceil(limit / 1000)), task],
        limit + CTL_TIMEOUT_MS,
      );
      if (w.code === 3)
        throw new WarrenError(
          "TIMEOUT",
          `task ${task} has not finished after ${Math.round(limit / 1000)} s; it goes on running (\`warren task ls ${row.name}\`)`,
        );
      const { units } = await status(row, autos);
      const t = autos.tasks.find((x) => x.name === task) as AutomationTask;
      return taskStatus(t, units.get(task));
    },

    async logs(a, env, kind, name, tail) {
      const { row } = await target(a, env, kind, name);
      const r = await supervise(d.runner, row.id, ["logs", name, "--tail", String(tail ?? LOG_TAIL)], {
        timeoutMs: CTL_TIMEOUT_MS,
      });
      if (r.code === 0) return r.stdout;
      if (r.code === 1) return ""; // nothing logged yet
      throw new WarrenError("ENV_FAILED", `logs of ${name}: ${supervisorMessage(r)}`);
    },
  };
}

/** The service over the automations the setup controller stored for each environment. */
export function automationServiceFor(
  envs: AutomationServiceDeps["envs"],
  runner: RunnerExec,
  db: Db,
): AutomationOps {
  return createAutomationService({ envs, runner, automationsOf: (id) => getSetupAutomations(db, id) });
}
