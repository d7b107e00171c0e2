// The dependsOn graph of an automations file: every name must exist, and nothing may wait on
// itself, directly or round a cycle (the supervisor would wait forever).
import type { AutomationsReader, DependencyRef } from "./automations.ts";

export function checkGraph(r: AutomationsReader, names: Map<string, string>, deps: DependencyRef[]): void {
  const edges = new Map<string, DependencyRef[]>();
  for (const d of deps) {
    if (!names.has(d.to)) {
      const known = [...names.keys()].sort().join(", ") || "none are declared";
      r.problem(d.node, d.path, `unknown service or task "${d.to}" (declared: ${known})`);
      continue;
    }
    if (d.to === d.from) {
      r.problem(d.node, d.path, `${d.from} cannot depend on itself`);
      continue;
    }
    const list = edges.get(d.from) ?? [];
    list.push(d);
    edges.set(d.from, list);
  }
  // Depth-first, colouring nodes; the first back edge found names the whole cycle.
  const colour = new Map<string, "grey" | "black">();
  const stack: string[] = [];
  const visit = (n: string): boolean => {
    colour.set(n, "grey");
    stack.push(n);
    for (const e of edges.get(n) ?? []) {
      const c = colour.get(e.to);
      if (c === "grey") {
        const cycle = [...stack.slice(stack.indexOf(e.to)), e.to].join(" -> ");
        r.problem(e.node, e.path, `dependency cycle: ${cycle}; remove one of these dependsOn entries`);
        return true;
      }
      if (c === undefined && visit(e.to)) return true;
    }
    stack.pop();
    colour.set(n, "black");
    return false;
  };
  for (const n of names.keys()) if (!colour.has(n) && visit(n)) return;
}
