// The fleet (services/fleet.ts): list an organisation's runners, cordon, uncordon and drain one.
// Thin: validate, call, convert.
import { type Static, Type } from "@sinclair/typebox";
import {
  API_PREFIX,
  FLEET_ACTIONS,
  FLEET_RUNNER_STATES,
  type FleetAction,
  type FleetActionResult as FleetActionResultT,
  type FleetList as FleetListT,
  RUNNER_SCHEDULES,
  WarrenError,
} from "@warren/protocol";
import type { FastifyInstance } from "fastify";
import type { FleetService } from "../services/fleet.ts";
import { requestActor } from "./auth.ts";
import { errors } from "./schemas-response.ts";

const lit = <const T extends string>(values: readonly T[]) => Type.Union(values.map((v) => Type.Literal(v)));
const Time = Type.String({ description: "ISO 8601 time" });
const TimeOrNull = Type.Union([Time, Type.Null()]);

const FleetResources = Type.Object({
  cpus: Type.Number(),
  memoryBytes: Type.Number(),
  diskBytes: Type.Number(),
  slots: Type.Number({ description: "environment slots; in `allocated`, environments held" }),
});
const RunnerUsage = Type.Object({
  cpuEwmaCores: Type.Number(),
  memoryWorkingSetBytes: Type.Number(),
  memoryAvailableBytes: Type.Number(),
});
export const FleetRunner = Type.Object({
  id: Type.String({ description: "the runner token's id" }),
  name: Type.String(),
  state: lit(FLEET_RUNNER_STATES),
  schedule: lit(RUNNER_SCHEDULES),
  labels: Type.Record(Type.String(), Type.String()),
  hostname: Type.String(),
  runtimes: Type.Array(Type.String()),
  capacity: FleetResources,
  allocated: FleetResources,
  used: Type.Union([RunnerUsage, Type.Null()], { description: "live usage from its heartbeats" }),
  environments: Type.Object({ total: Type.Number(), running: Type.Number() }),
  lastHeartbeat: TimeOrNull,
  unreachableSince: TimeOrNull,
  unschedulable: Type.Union([Type.String(), Type.Null()]),
});
const FleetAutoscaler = Type.Object({
  pool: Type.String(),
  desired: Type.Number(),
  decision: Type.String(),
  at: Type.String(),
});
export const FleetList = Type.Object({
  items: Type.Array(FleetRunner),
  autoscaler: Type.Array(FleetAutoscaler, { description: "the autoscaler's last decision per pool" }),
});
export const FleetActionResult = Type.Object({
  runner: FleetRunner,
  stopping: Type.Array(Type.Object({ name: Type.String(), state: Type.String() }), {
    description: "drain: the environments asked to stop, with their state when this answer was sent",
  }),
});

const RunnerParams = Type.Object({
  name: Type.String({
    pattern: "^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$",
    description: "the runner's name (`warren fleet ls`), or its id",
  }),
});
type RunnerParams = Static<typeof RunnerParams>;

const SUMMARY: Record<FleetAction, string> = {
  cordon: "Keep new environments off a runner; its environments keep running.",
  uncordon: "Let a cordoned or drained runner take new environments again.",
  drain:
    "Cordon a runner and stop every environment on it that runs (gracefully, through reconcile); waits up to a few seconds for the stops.",
};

export function fleetRoutes(app: FastifyInstance, svc: FleetService | undefined): void {
  const fleet = (): FleetService => {
    if (!svc) throw new WarrenError("INVALID_ARGUMENT", "the fleet needs the server's store");
    return svc;
  };
  app.get(
    `${API_PREFIX}/fleet/runners`,
    {
      schema: {
        operationId: "listRunners",
        tags: ["fleet"],
        summary:
          "The organisation's runners: state, labels, capacity, allocated, used, environments, last heartbeat (admins).",
        response: { 200: FleetList, ...errors("INVALID_ARGUMENT", "UNAUTHENTICATED", "FORBIDDEN") },
      },
    },
    (req) => fleet().list(requestActor(req)),
  );
  for (const action of FLEET_ACTIONS) {
    app.post<{ Params: RunnerParams }>(
      `${API_PREFIX}/fleet/runners/:name/${action}`,
      {
        schema: {
          operationId: `${action}Runner`,
          tags: ["fleet"],
          summary: `${SUMMARY[action]} Admins.`,
          params: RunnerParams,
          response: {
            200: FleetActionResult,
            ...errors("INVALID_ARGUMENT", "UNAUTHENTICATED", "FORBIDDEN", "RUNNER_NOT_FOUND"),
          },
        },
      },
      (req) => fleet()[action](requestActor(req), req.params.name),
    );
  }
}

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Assert<T extends true> = T;
export type _Checks = [
  Assert<Same<Static<typeof FleetList>, FleetListT>>,
  Assert<Same<Static<typeof FleetActionResult>, FleetActionResultT>>,
];
