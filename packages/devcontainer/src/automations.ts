// .warren/automations.yaml: a repository's services (long-running, with readiness, restart
// policy and dependencies) and tasks (one-shot, run on a trigger or by hand). Parsed with the
// `yaml` library's document tree so every problem points at file:line:column. A malformed file
// never blocks an environment from starting: parseAutomations returns the problems instead of
// throwing, and the caller logs them and carries on without automations.
import {
  AUTOMATION_NAME_RE,
  AUTOMATION_TRIGGERS,
  type AutomationService,
  type Automations,
  type AutomationTask,
  type AutomationTrigger,
  RESTART_POLICIES,
  type RestartPolicy,
  WarrenError,
} from "@warren/protocol";
import { isAlias, isMap, isScalar, isSeq, LineCounter, type Node, parseDocument, type YAMLMap } from "yaml";
import { checkGraph } from "./automations-graph.ts";

export const AUTOMATIONS_FILE = ".warren/automations.yaml";
export const MAX_AUTOMATIONS_BYTES = 64 * 1024;
/** As warren-supervise's limits: units, dependencies per unit. */
export const MAX_AUTOMATION_UNITS = 64;
export const MAX_DEPENDS_ON = 16;
/** Longest command (bytes); escaped for the supervisor it stays within its 16 KiB per value. */
export const MAX_COMMAND_BYTES = 8 * 1024;

export interface AutomationsProblem {
  file: string;
  line: number;
  column: number;
  /** Where in the document: services.web.ready.port */
  path: string;
  message: string;
}

export interface ParsedAutomations {
  /** Absent when there were problems: nothing of a malformed file runs. */
  automations?: Automations;
  problems: AutomationsProblem[];
  /** The problems as "file:line:column: path: message" lines, for a log. */
  errors: string[];
  /** Unknown properties and the like: reported, never fatal. */
  warnings: string[];
}

export function formatProblem(p: AutomationsProblem): string {
  return `${p.file}:${p.line}:${p.column}: ${p.path ? `${p.path}: ` : ""}${p.message}`;
}

/** Like parseAutomations, but the first problem is thrown as INVALID_ARGUMENT (all in details). */
export function readAutomations(text: string, file = AUTOMATIONS_FILE): Automations {
  const r = parseAutomations(text, file);
  const first = r.problems[0];
  if (first || !r.automations) {
    const p = first ?? { file, line: 1, column: 1, path: "", message: "could not be read" };
    throw new WarrenError("INVALID_ARGUMENT", formatProblem(p), {
      file: p.file,
      line: p.line,
      column: p.column,
      path: p.path,
      problems: r.problems.map(formatProblem),
    });
  }
  return r.automations;
}

class Reader {
  readonly problems: AutomationsProblem[] = [];
  readonly warnings: string[] = [];
  readonly file: string;
  readonly lines: LineCounter;
  constructor(file: string, lines: LineCounter) {
    this.file = file;
    this.lines = lines;
  }

  at(offset: number | undefined): { line: number; column: number } {
    const p = this.lines.linePos(Math.max(0, offset ?? 0));
    return { line: Math.max(1, p.line), column: Math.max(1, p.col) };
  }

  problem(node: Node | null | undefined, path: string, message: string, fallback?: number): void {
    this.problems.push({ file: this.file, ...this.at(node?.range?.[0] ?? fallback), path, message });
  }

  warn(node: Node | null | undefined, path: string, message: string): void {
    const { line, column } = this.at(node?.range?.[0]);
    this.warnings.push(`${this.file}:${line}:${column}: ${path}: ${message}`);
  }

  /** The entries of a mapping whose keys are plain strings; anything else is a problem. */
  entries(node: unknown, path: string, what: string, at?: number): [string, Node | null, Node][] | undefined {
    if (isAlias(node))
      return void this.problem(node, path, "aliases (*name) are not supported: write the value out");
    if (!isMap(node)) return void this.problem(node as Node, path, `must be a mapping of ${what}`, at);
    const out: [string, Node | null, Node][] = [];
    for (const pair of (node as YAMLMap).items) {
      const key = pair.key as Node;
      if (!isScalar(key) || typeof key.value !== "string") {
        this.problem(key, path, "keys must be plain strings", node.range?.[0]);
        continue;
      }
      out.push([key.value, (pair.value as Node | null) ?? null, key]);
    }
    return out;
  }

  string(node: Node | null, path: string, max: number, at: number | undefined): string | undefined {
    if (isAlias(node))
      return void this.problem(node, path, "aliases (*name) are not supported: write the value out");
    if (!isScalar(node) || typeof node.value !== "string") {
      return void this.problem(
        node,
        path,
        "must be a string (quote it if it looks like a number or boolean)",
        at,
      );
    }
    const v = node.value;
    if (v.trim() === "") return void this.problem(node, path, "must not be empty");
    if (v.includes("\0")) return void this.problem(node, path, "must not contain NUL characters");
    if (Buffer.byteLength(v) > max) return void this.problem(node, path, `is longer than ${max} bytes`);
    return v;
  }

  /** A list of strings, or one string standing for a list of one. */
  strings(
    node: Node | null,
    path: string,
    max: number,
    at: number | undefined,
  ): { value: string; node: Node }[] {
    if (isScalar(node) && typeof node.value === "string") return [{ value: node.value, node }];
    if (!isSeq(node)) {
      this.problem(node, path, "must be a list of names, e.g. [db, cache]", at);
      return [];
    }
    if (node.items.length > max) this.problem(node, path, `lists more than ${max} names`);
    const out: { value: string; node: Node }[] = [];
    for (const [i, item] of node.items.entries()) {
      const v = this.string(item as Node, `${path}[${i}]`, 256, node.range?.[0]);
      if (v !== undefined) out.push({ value: v, node: item as Node });
    }
    return out;
  }
}

/** Names referenced by dependsOn, with where, for the graph check. */
export interface DependencyRef {
  from: string;
  to: string;
  node: Node;
  path: string;
}

function readService(
  r: Reader,
  name: string,
  node: Node | null,
  at: number | undefined,
  deps: DependencyRef[],
) {
  const path = `services.${name}`;
  const fields = r.entries(node, path, "service properties (command, ready, restart, dependsOn)", at);
  if (!fields) return undefined;
  const s: Partial<AutomationService> & { name: string } = { name, restart: "on-failure", dependsOn: [] };
  for (const [k, v, key] of fields) {
    const p = `${path}.${k}`;
    const vAt = key.range?.[0];
    if (k === "command") s.command = r.string(v, p, MAX_COMMAND_BYTES, vAt);
    else if (k === "description") s.description = r.string(v, p, 1024, vAt);
    else if (k === "restart") {
      const v2 = r.string(v, p, 64, vAt);
      if (v2 !== undefined && !(RESTART_POLICIES as readonly string[]).includes(v2))
        r.problem(v, p, `unknown restart policy "${v2}": use ${RESTART_POLICIES.join(", ")}`);
      else if (v2 !== undefined) s.restart = v2 as RestartPolicy;
    } else if (k === "dependsOn") {
      for (const d of r.strings(v, p, MAX_DEPENDS_ON, vAt)) {
        s.dependsOn?.push(d.value);
        deps.push({ from: name, to: d.value, node: d.node, path: p });
      }
    } else if (k === "ready") {
      const ready = r.entries(v, p, "command or port", vAt);
      if (!ready) continue;
      const known = ready.filter(([rk]) => rk === "command" || rk === "port");
      for (const [rk, , rkey] of ready)
        if (rk !== "command" && rk !== "port") r.warn(rkey, `${p}.${rk}`, "unknown property, ignored");
      if (known.length !== 1) {
        r.problem(
          v,
          p,
          "needs exactly one of command (exits 0 when ready) or port (accepts connections)",
          vAt,
        );
        continue;
      }
      const [rk, rv, rkey] = known[0] as [string, Node | null, Node];
      if (rk === "command") {
        const c = r.string(rv, `${p}.command`, MAX_COMMAND_BYTES, rkey.range?.[0]);
        if (c !== undefined) s.ready = { command: c };
      } else if (
        isScalar(rv) &&
        typeof rv.value === "number" &&
        Number.isInteger(rv.value) &&
        rv.value >= 1 &&
        rv.value <= 65_535
      ) {
        s.ready = { port: rv.value };
      } else {
        r.problem(rv, `${p}.port`, "must be a TCP port, a whole number from 1 to 65535", rkey.range?.[0]);
      }
    } else r.warn(key, p, "unknown property, ignored");
  }
  if (!fields.some(([k]) => k === "command")) r.problem(node, path, "needs a command", at);
  return s.command === undefined ? undefined : (s as AutomationService);
}

function readTask(r: Reader, name: string, node: Node | null, at: number | undefined, deps: DependencyRef[]) {
  const path = `tasks.${name}`;
  const fields = r.entries(node, path, "task properties (command, dependsOn, triggeredBy)", at);
  if (!fields) return undefined;
  const t: Partial<AutomationTask> & { name: string } = { name, dependsOn: [], triggeredBy: [] };
  for (const [k, v, key] of fields) {
    const p = `${path}.${k}`;
    const vAt = key.range?.[0];
    if (k === "command") t.command = r.string(v, p, MAX_COMMAND_BYTES, vAt);
    else if (k === "description") t.description = r.string(v, p, 1024, vAt);
    else if (k === "dependsOn") {
      for (const d of r.strings(v, p, MAX_DEPENDS_ON, vAt)) {
        t.dependsOn?.push(d.value);
        deps.push({ from: name, to: d.value, node: d.node, path: p });
      }
    } else if (k === "triggeredBy") {
      for (const d of r.strings(v, p, AUTOMATION_TRIGGERS.length, vAt)) {
        if (!(AUTOMATION_TRIGGERS as readonly string[]).includes(d.value))
          r.problem(d.node, p, `unknown trigger "${d.value}": use ${AUTOMATION_TRIGGERS.join(", ")}`);
        else if (!t.triggeredBy?.includes(d.value as AutomationTrigger))
          t.triggeredBy?.push(d.value as AutomationTrigger);
      }
    } else r.warn(key, p, "unknown property, ignored");
  }
  if (!fields.some(([k]) => k === "command")) r.problem(node, path, "needs a command", at);
  if (t.triggeredBy?.length === 0) t.triggeredBy = ["manual"];
  return t.command === undefined ? undefined : (t as AutomationTask);
}

export function parseAutomations(text: string, file = AUTOMATIONS_FILE): ParsedAutomations {
  const r = parseInner(text, file);
  return { ...r, errors: r.problems.map(formatProblem) };
}

function parseInner(text: string, file: string): Omit<ParsedAutomations, "errors"> {
  const lines = new LineCounter();
  const r = new Reader(file, lines);
  if (Buffer.byteLength(text) > MAX_AUTOMATIONS_BYTES) {
    r.problem(undefined, "", `is larger than ${MAX_AUTOMATIONS_BYTES / 1024} KiB`, 0);
    return { problems: r.problems, warnings: r.warnings };
  }
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  for (const e of doc.errors) {
    r.problem(undefined, "", e.message.split("\n")[0] ?? "invalid YAML", e.pos[0]);
  }
  for (const w of doc.warnings)
    r.warnings.push(`${file}:${r.at(w.pos[0]).line}:${r.at(w.pos[0]).column}: ${w.message.split("\n")[0]}`);
  if (r.problems.length) return { problems: r.problems, warnings: r.warnings };
  const out: Automations = { services: [], tasks: [] };
  const root = doc.contents;
  if (root === null || (isScalar(root) && root.value === null))
    return { automations: out, problems: [], warnings: r.warnings };
  const top = r.entries(root, "", "services and tasks");
  const deps: DependencyRef[] = [];
  const seen = new Map<string, string>();
  for (const [k, v, key] of top ?? []) {
    if (k !== "services" && k !== "tasks") {
      r.warn(key, k, "unknown property, ignored (automations.yaml has services and tasks)");
      continue;
    }
    if (v === null || (isScalar(v) && v.value === null)) continue;
    const units = r.entries(v, k, k === "services" ? "service names" : "task names", key.range?.[0]);
    for (const [name, unit, nameNode] of units ?? []) {
      const path = `${k}.${name}`;
      if (!AUTOMATION_NAME_RE.test(name)) {
        r.problem(
          nameNode,
          path,
          "invalid name: use letters, digits, -, _ and . (64 at most), starting with a letter or digit",
        );
        continue;
      }
      const other = seen.get(name);
      if (other) {
        r.problem(nameNode, path, `"${name}" is already a ${other}: service and task names must all differ`);
        continue;
      }
      seen.set(name, k === "services" ? "service" : "task");
      const at = nameNode.range?.[0];
      if (k === "services") {
        const s = readService(r, name, unit, at, deps);
        if (s) out.services.push(s);
      } else {
        const t = readTask(r, name, unit, at, deps);
        if (t) out.tasks.push(t);
      }
    }
  }
  if (seen.size > MAX_AUTOMATION_UNITS)
    r.problem(root, "", `declares ${seen.size} services and tasks; at most ${MAX_AUTOMATION_UNITS}`);
  checkGraph(r, seen, deps);
  if (r.problems.length) return { problems: r.problems, warnings: r.warnings };
  return { automations: out, problems: [], warnings: r.warnings };
}

export {
  escapeValue,
  MAX_SUPERVISOR_CONFIG_BYTES,
  type SupervisorOptions,
  supervisorConfig,
} from "./automations-config.ts";
export type { Reader as AutomationsReader };
