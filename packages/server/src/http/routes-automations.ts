// An environment's automations (services/automations.ts): its services and tasks, starting and
// stopping services, running tasks, and their logs. Validate, call, convert.
import { type Static, type TSchema, Type } from "@sinclair/typebox";
import {
  API_PREFIX,
  type ServiceList as ServiceListT,
  type ServiceStatus as ServiceStatusT,
  type TaskList as TaskListT,
  type TaskStatus as TaskStatusT,
  WarrenError,
} from "@warren/protocol";
import type { FastifyInstance } from "fastify";
import type { AutomationOps } from "../services/automations.ts";
import { requestActor } from "./auth.ts";
import { NameParams } from "./schemas.ts";
import { errors } from "./schemas-response.ts";

const E = `${API_PREFIX}/environments/:name`;
const tags = ["environments"];
const UnitName = Type.String({
  pattern: "^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$",
  description: "A service or task name.",
});
// Literal unions written out, so their static types match the protocol's (checked at the end).
const L = Type.Literal;
const ServiceState = Type.Union([
  L("idle"),
  L("stopped"),
  L("waiting"),
  L("starting"),
  L("ready"),
  L("backoff"),
  L("stopping"),
  L("failed"),
  L("exited"),
]);
const TaskState = Type.Union([L("idle"), L("waiting"), L("running"), L("done"), L("failed")]);
const Trigger = Type.Union([L("postEnvironmentStart"), L("postDevcontainerStart"), L("manual")]);
const opt = <T extends TSchema>(t: T) => Type.Optional(t);

export const ServiceStatus = Type.Object({
  name: Type.String(),
  description: opt(Type.String()),
  state: ServiceState,
  pid: opt(Type.Integer({ description: "Its process id inside the environment while it runs." })),
  restarts: Type.Integer({ description: "Restarts after crashes since the environment started." }),
  exitCode: opt(Type.Integer({ description: "Exit status of its last run." })),
  dependsOn: Type.Array(Type.String()),
  message: opt(Type.String({ description: 'Why it is not running or not ready ("waiting for db").' })),
});
export const TaskStatus = Type.Object({
  name: Type.String(),
  description: opt(Type.String()),
  state: TaskState,
  runs: Type.Integer({ description: "Runs since the environment started." }),
  exitCode: opt(Type.Integer()),
  dependsOn: Type.Array(Type.String()),
  triggeredBy: Type.Array(Trigger),
  message: opt(Type.String()),
});
const running = Type.Boolean({
  description: "False when the environment or its supervisor is not running: states are then idle.",
});
const ServiceList = Type.Object({ items: Type.Array(ServiceStatus), running });
const TaskList = Type.Object({ items: Type.Array(TaskStatus), running });
const ServiceParams = Type.Object({ name: NameParams.properties.name, service: UnitName });
type ServiceParams = Static<typeof ServiceParams>;
const TaskParams = Type.Object({ name: NameParams.properties.name, task: UnitName });
type TaskParams = Static<typeof TaskParams>;
const TailQuery = Type.Object({ tail: Type.Optional(Type.Integer({ minimum: 0, maximum: 10_000 })) });
type TailQuery = Static<typeof TailQuery>;
const text = { description: "Log text", content: { "text/plain": { schema: Type.String() } } };

export function automationRoutes(app: FastifyInstance, ops: AutomationOps | undefined): void {
  const svc = (): AutomationOps => {
    if (!ops) throw new WarrenError("INVALID_ARGUMENT", "automations are not configured on this server");
    return ops;
  };
  const readErrors = errors(
    "INVALID_ARGUMENT",
    "ENV_NOT_FOUND",
    "UNAUTHENTICATED",
    "FORBIDDEN",
    "RUNNER_UNAVAILABLE",
  );
  const actErrors = errors(
    "INVALID_ARGUMENT",
    "ENV_NOT_FOUND",
    "ENV_NOT_RUNNING",
    "ENV_FAILED",
    "TIMEOUT",
    "UNAUTHENTICATED",
    "FORBIDDEN",
    "RUNNER_UNAVAILABLE",
  );

  app.get<{ Params: NameParams }>(
    `${E}/services`,
    {
      schema: {
        operationId: "listServices",
        tags,
        summary: "The services of the environment's .warren/automations.yaml and their states.",
        params: NameParams,
        response: { 200: ServiceList, ...readErrors },
      },
    },
    async (req) => svc().listServices(requestActor(req), req.params.name),
  );

  for (const action of ["start", "stop", "restart"] as const) {
    app.post<{ Params: ServiceParams }>(
      `${E}/services/:service/${action}`,
      {
        schema: {
          operationId: `${action}Service`,
          tags,
          summary:
            action === "start"
              ? "Start a service (and the services it depends on); it runs once they are ready."
              : action === "stop"
                ? "Stop a service (SIGTERM to its process group, SIGKILL after 5 s); it stays stopped until started."
                : "Restart a service.",
          params: ServiceParams,
          response: { 200: ServiceStatus, ...actErrors },
        },
      },
      async (req) => svc().serviceAction(requestActor(req), req.params.name, req.params.service, action),
    );
  }

  app.get<{ Params: ServiceParams; Querystring: TailQuery }>(
    `${E}/services/:service/logs`,
    {
      schema: {
        operationId: "serviceLogs",
        tags,
        summary: "The last lines of a service's output (tail, default 200).",
        params: ServiceParams,
        querystring: TailQuery,
        response: { 200: text, ...actErrors },
      },
    },
    async (req, reply) => {
      const out = await svc().logs(
        requestActor(req),
        req.params.name,
        "service",
        req.params.service,
        req.query.tail,
      );
      return reply.type("text/plain; charset=utf-8").send(out);
    },
  );

  app.get<{ Params: NameParams }>(
    `${E}/tasks`,
    {
      schema: {
        operationId: "listTasks",
        tags,
        summary: "The tasks of the environment's .warren/automations.yaml and their states.",
        params: NameParams,
        response: { 200: TaskList, ...readErrors },
      },
    },
    async (req) => svc().listTasks(requestActor(req), req.params.name),
  );

  app.post<{ Params: TaskParams }>(
    `${E}/tasks/:task/run`,
    {
      schema: {
        operationId: "runTask",
        tags,
        summary: "Run a task (its dependencies first); answers once it has finished, with its exit status.",
        params: TaskParams,
        response: { 200: TaskStatus, ...actErrors },
      },
    },
    async (req) => svc().runTask(requestActor(req), req.params.name, req.params.task),
  );

  app.get<{ Params: TaskParams; Querystring: TailQuery }>(
    `${E}/tasks/:task/logs`,
    {
      schema: {
        operationId: "taskLogs",
        tags,
        summary: "The last lines of a task's output (tail, default 200).",
        params: TaskParams,
        querystring: TailQuery,
        response: { 200: text, ...actErrors },
      },
    },
    async (req, reply) => {
      const out = await svc().logs(
        requestActor(req),
        req.params.name,
        "task",
        req.params.task,
        req.query.tail,
      );
      return reply.type("text/plain; charset=utf-8").send(out);
    },
  );
}

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Assert<T extends true> = T;
export type _Checks = [
  Assert<Same<Static<typeof ServiceStatus>, ServiceStatusT>>,
  Assert<Same<Static<typeof TaskStatus>, TaskStatusT>>,
  Assert<Same<Static<typeof ServiceList>, ServiceListT>>,
  Assert<Same<Static<typeof TaskList>, TaskListT>>,
];
