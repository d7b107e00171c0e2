// A repository's automations (.warren/automations.yaml): long-running services and one-shot
// tasks, run inside the environment by its supervisor (runner/native/warren-supervise.c), and
// how the API shows them.
//
//   GET  /api/v1/environments/:name/services                   -> { items: ServiceStatus[], ... }
//   POST /api/v1/environments/:name/services/:service/start    -> ServiceStatus  (also stop, restart)
//   GET  /api/v1/environments/:name/services/:service/logs     -> text (?tail=N)
//   GET  /api/v1/environments/:name/tasks                      -> { items: TaskStatus[], ... }
//   POST /api/v1/environments/:name/tasks/:task/run            -> TaskStatus (once it has finished)
//   GET  /api/v1/environments/:name/tasks/:task/logs           -> text (?tail=N)

/** Where the supervisor (runner/native/warren-supervise.c) is bound, read-only, in every environment. */
export const SUPERVISE_PATH = "/.warren/supervise";

/** When a task runs by itself: after every start of the environment, after the devcontainer's
 * postStartCommand, or only when asked (`warren task run`). */
export const AUTOMATION_TRIGGERS = ["postEnvironmentStart", "postDevcontainerStart", "manual"] as const;
export type AutomationTrigger = (typeof AUTOMATION_TRIGGERS)[number];

export const RESTART_POLICIES = ["always", "on-failure", "never"] as const;
export type RestartPolicy = (typeof RESTART_POLICIES)[number];

/** Service and task names: also file names inside the environment, so a narrow set. */
export const AUTOMATION_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export interface AutomationService {
  name: string;
  description?: string;
  /** A shell command (`sh -c`), run as the environment's user in its workspace folder. */
  command: string;
  /** Ready once this command exits 0, or once 127.0.0.1:port (or [::1]:port) accepts a connection. */
  ready?: { command: string } | { port: number };
  /** Default on-failure. */
  restart: RestartPolicy;
  /** Services and tasks that must be ready (services) or done (tasks) before it starts. */
  dependsOn: string[];
}

export interface AutomationTask {
  name: string;
  description?: string;
  command: string;
  dependsOn: string[];
  /** Default ["manual"]. Every task can be run by hand. */
  triggeredBy: AutomationTrigger[];
}

/** A parsed, checked automations file: names unique across services and tasks, no cycles. */
export interface Automations {
  services: AutomationService[];
  tasks: AutomationTask[];
}

export type ServiceState =
  | "idle"
  | "stopped"
  | "waiting"
  | "starting"
  | "ready"
  | "backoff"
  | "stopping"
  | "failed"
  | "exited";
export type TaskState = "idle" | "waiting" | "running" | "done" | "failed";

export interface ServiceStatus {
  name: string;
  description?: string;
  state: ServiceState;
  /** Its process id inside the environment while it runs. */
  pid?: number;
  /** Restarts after crashes since the environment started. */
  restarts: number;
  /** Exit status of its last run. */
  exitCode?: number;
  dependsOn: string[];
  /** Why it is not running or not ready ("waiting for db"). */
  message?: string;
}

export interface TaskStatus {
  name: string;
  description?: string;
  state: TaskState;
  /** Runs since the environment started. */
  runs: number;
  exitCode?: number;
  dependsOn: string[];
  triggeredBy: AutomationTrigger[];
  message?: string;
}

export interface ServiceList {
  items: ServiceStatus[];
  /** False when the environment is not running or its supervisor is not up: states are "idle". */
  running: boolean;
}

export interface TaskList {
  items: TaskStatus[];
  running: boolean;
}

export type ServiceAction = "start" | "stop" | "restart";

/** Part of ApiClient (api.ts). */
export interface AutomationsClient {
  listServices(env: string): Promise<ServiceList>;
  serviceAction(env: string, service: string, action: ServiceAction): Promise<ServiceStatus>;
  serviceLogs(env: string, service: string, opts?: { tail?: number }): Promise<string>;
  listTasks(env: string): Promise<TaskList>;
  /** Runs a task (its dependencies first) and resolves once it has finished. */
  runTask(env: string, task: string): Promise<TaskStatus>;
  taskLogs(env: string, task: string, opts?: { tail?: number }): Promise<string>;
}
