// Facts about the runner's host that users read: its capacity and runtimes (`GET /runner`) and
// its DNS cache counters (`warren dns stats`). They come from the actor's organisation's runner.
import type { RunnerStats } from "@warren/protocol";
import { type Actor, requireActor } from "./actor.ts";
import type { RunnerFor } from "./runner-for.ts";
import { actorOrg } from "./scope.ts";

export interface HostService {
  info(a: Actor): ReturnType<RunnerStats["info"]>;
  dnsStats(a: Actor): ReturnType<RunnerStats["dnsStats"]>;
}

export function createHostService(o: { runnerFor: RunnerFor<RunnerStats> }): HostService {
  const runnerOf = (a: Actor, what: string): RunnerStats => {
    requireActor(a, what);
    return o.runnerFor(actorOrg(a));
  };
  return {
    info: async (a) => runnerOf(a, "reading the runner's host facts").info(),
    dnsStats: async (a) => runnerOf(a, "reading DNS counters").dnsStats(),
  };
}
