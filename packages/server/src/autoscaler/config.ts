// The autoscaler's configuration file (`warren server --autoscaler-config FILE`), JSON or YAML by
// its extension. It is the only place a hook's path can come from: the API never names one.
// Every problem is reported with the file and the key, and unknown keys are errors (a typo in
// `maxRunner` must not silently mean the default).
//
//   { "intervalSeconds": 15,
//     "server": { "url": "https://warren.example:7443", "fingerprint": "…" },   (optional)
//     "pools": [ { "name": "eu", "org": "default", "labels": { "zone": "eu" },
//                  "minRunners": 1, "maxRunners": 10, "averageUtilization": 50, "resource": "memory",
//                  "provider": { "type": "hook", "path": "/etc/warren/hosts-hook" } } ] }
import { readFileSync } from "node:fs";
import path from "node:path";
import { parse as parseYaml } from "yaml";
import { checkHookPath } from "./providers/hook.ts";

export type ProviderConfig =
  | {
      type: "hook";
      path: string;
      env: Record<string, string>;
      timeoutMs: { create: number; delete: number; status: number };
    }
  | {
      type: "local";
      stateDir: string;
      command: string[];
      idRange: { start: number; size: number };
      subnetBase: number;
      prefix: string;
      maxHosts: number;
    };

export interface PoolConfig {
  name: string;
  org: string;
  labels: Record<string, string>;
  minRunners: number;
  maxRunners: number;
  averageUtilization: number;
  resource: "memory" | "cpu";
  maxStepUp: number;
  maxStepDown: number;
  scaleUpCooldownMs: number;
  scaleDownCooldownMs: number;
  scaleDownStabilizationMs: number;
  bootTimeoutMs: number;
  demandWindowMs: number;
  tokenTtlMs: number;
  provider: ProviderConfig;
}

export interface AutoscalerConfig {
  file: string;
  intervalMs: number;
  server?: { url: string; fingerprint: string };
  pools: PoolConfig[];
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

class Reader {
  readonly file: string;
  constructor(file: string) {
    this.file = file;
  }
  fail(key: string, what: string): never {
    throw new Error(`autoscaler config ${this.file}: ${key} ${what}`);
  }
  obj(v: unknown, key: string, allowed: string[]): Obj {
    if (!isObj(v)) this.fail(key, "must be an object");
    for (const k of Object.keys(v)) {
      if (!allowed.includes(k)) this.fail(`${key}.${k}`, `is not a known key (known: ${allowed.join(", ")})`);
    }
    return v;
  }
  num(o: Obj, key: string, at: string, def: number, min: number, max: number, whole = true): number {
    const v = o[key] ?? def;
    if (
      typeof v !== "number" ||
      !Number.isFinite(v) ||
      (whole && !Number.isInteger(v)) ||
      v < min ||
      v > max
    ) {
      this.fail(
        `${at}.${key}`,
        `must be a ${whole ? "whole " : ""}number from ${min} to ${max}, not ${JSON.stringify(v)}`,
      );
    }
    return v;
  }
  str(o: Obj, key: string, at: string, def?: string): string {
    const v = o[key] ?? def;
    if (typeof v !== "string" || v === "") this.fail(`${at}.${key}`, "must be a non-empty string");
    return v;
  }
  strMap(o: Obj, key: string, at: string): Record<string, string> {
    const v = o[key] ?? {};
    if (!isObj(v) || Object.values(v).some((x) => typeof x !== "string")) {
      this.fail(`${at}.${key}`, "must be an object of string values");
    }
    return v as Record<string, string>;
  }
}

const POOL_KEYS = [
  "name",
  "org",
  "labels",
  "minRunners",
  "maxRunners",
  "averageUtilization",
  "resource",
  "maxStepUp",
  "maxStepDown",
  "scaleUpCooldownSeconds",
  "scaleDownCooldownSeconds",
  "scaleDownStabilizationSeconds",
  "bootTimeoutSeconds",
  "demandWindowSeconds",
  "tokenTtlSeconds",
  "provider",
];

function readProvider(r: Reader, v: unknown, at: string, o: LoadOptions, pool: string): ProviderConfig {
  if (!isObj(v)) r.fail(at, 'must be an object with "type": "hook" or "local"');
  if (v["type"] === "hook") {
    const p = r.obj(v, at, ["type", "path", "env", "timeoutSeconds"]);
    const hookPath = r.str(p, "path", at);
    try {
      checkHookPath(hookPath);
    } catch (err) {
      r.fail(`${at}.path`, (err as Error).message);
    }
    const t = r.obj(p["timeoutSeconds"] ?? {}, `${at}.timeoutSeconds`, ["create", "delete", "status"]);
    const s = (k: string, def: number) => r.num(t, k, `${at}.timeoutSeconds`, def, 1, 3600) * 1000;
    return {
      type: "hook",
      path: hookPath,
      env: r.strMap(p, "env", at),
      timeoutMs: { create: s("create", 300), delete: s("delete", 300), status: s("status", 30) },
    };
  }
  if (v["type"] === "local") {
    const p = r.obj(v, at, [
      "type",
      "stateDir",
      "command",
      "idRangeStart",
      "idRangeSize",
      "subnetBase",
      "prefix",
      "maxHosts",
    ]);
    const command = p["command"] ?? o.defaultLocalCommand;
    if (
      !Array.isArray(command) ||
      command.length === 0 ||
      command.some((c) => typeof c !== "string" || c === "")
    ) {
      r.fail(
        `${at}.command`,
        'must be a non-empty array of strings (the argv of `warren runner`, e.g. ["/usr/bin/warren", "runner"])',
      );
    }
    const prefix = r.str(p, "prefix", at, "wa");
    if (!/^[a-z][a-z0-9]{0,5}$/.test(prefix))
      r.fail(`${at}.prefix`, "must be 1–6 lower-case letters or digits, starting with a letter");
    return {
      type: "local",
      stateDir: path.resolve(r.str(p, "stateDir", at, path.join(o.root, "autoscaler", pool))),
      command: command as string[],
      idRange: {
        start: r.num(p, "idRangeStart", at, 10_000_000, 65_536, 2 ** 32 - 1),
        size: r.num(p, "idRangeSize", at, 64 * 65_536, 65_536, 2 ** 31),
      },
      subnetBase: r.num(p, "subnetBase", at, 210, 0, 255),
      prefix,
      maxHosts: r.num(p, "maxHosts", at, 32, 1, 256),
    };
  }
  return r.fail(`${at}.type`, `must be "hook" or "local", not ${JSON.stringify(v["type"])}`);
}

function readPool(r: Reader, v: unknown, at: string, o: LoadOptions): PoolConfig {
  const p = r.obj(v, at, POOL_KEYS);
  const name = r.str(p, "name", at);
  if (!DNS_LABEL.test(name))
    r.fail(`${at}.name`, `must be a DNS label (a-z, 0-9, -), not ${JSON.stringify(name)}`);
  const minRunners = r.num(p, "minRunners", at, 0, 0, 10_000);
  const maxRunners = r.num(p, "maxRunners", at, 10, 1, 10_000);
  if (maxRunners < minRunners)
    r.fail(`${at}.maxRunners`, `(${maxRunners}) must be at least minRunners (${minRunners})`);
  const resource = p["resource"] ?? "memory";
  if (resource !== "memory" && resource !== "cpu")
    r.fail(`${at}.resource`, `must be "memory" or "cpu", not ${JSON.stringify(resource)}`);
  const s = (k: string, def: number, max = 86_400) => r.num(p, k, at, def, 0, max) * 1000;
  return {
    name,
    org: r.str(p, "org", at, "default"),
    labels: r.strMap(p, "labels", at),
    minRunners,
    maxRunners,
    averageUtilization: r.num(p, "averageUtilization", at, 50, 1, 100),
    resource,
    maxStepUp: r.num(p, "maxStepUp", at, 4, 1, 1000),
    maxStepDown: r.num(p, "maxStepDown", at, 1, 1, 1000),
    scaleUpCooldownMs: s("scaleUpCooldownSeconds", 60),
    scaleDownCooldownMs: s("scaleDownCooldownSeconds", 300),
    scaleDownStabilizationMs: s("scaleDownStabilizationSeconds", 300),
    bootTimeoutMs: s("bootTimeoutSeconds", 600),
    demandWindowMs: s("demandWindowSeconds", 300),
    tokenTtlMs: r.num(p, "tokenTtlSeconds", at, 900, 30, 86_400) * 1000,
    provider: readProvider(r, p["provider"], `${at}.provider`, o, name),
  };
}

export interface LoadOptions {
  /** The server's root: the local provider's state goes under it by default. */
  root: string;
  /** argv of `warren runner` for the local provider when the file names none. */
  defaultLocalCommand?: string[];
}

/** Parses and checks a configuration already read (exported for tests). */
export function parseAutoscalerConfig(file: string, text: string, o: LoadOptions): AutoscalerConfig {
  const r = new Reader(file);
  let raw: unknown;
  const ext = path.extname(file).toLowerCase();
  try {
    if (ext === ".json") raw = JSON.parse(text);
    else if (ext === ".yaml" || ext === ".yml") raw = parseYaml(text);
    else r.fail("", "must end in .json, .yaml or .yml");
  } catch (err) {
    if ((err as Error).message.startsWith("autoscaler config")) throw err;
    throw new Error(
      `autoscaler config ${file}: not valid ${ext === ".json" ? "JSON" : "YAML"}: ${(err as Error).message}`,
    );
  }
  const top = r.obj(raw, "(top level)", ["intervalSeconds", "server", "pools"]);
  if (!Array.isArray(top["pools"]) || top["pools"].length === 0) r.fail("pools", "must be a non-empty array");
  const pools = (top["pools"] as unknown[]).map((p, i) => readPool(r, p, `pools[${i}]`, o));
  const seen = new Map<string, string>();
  for (const p of pools) {
    if (seen.has(`name:${p.name}`)) r.fail("pools", `name "${p.name}" is used twice`);
    // Unplaceable creates are counted per organisation: two pools would both answer them.
    if (seen.has(`org:${p.org}`))
      r.fail(
        "pools",
        `organisation "${p.org}" has two pools (${seen.get(`org:${p.org}`)}, ${p.name}); one per organisation`,
      );
    seen.set(`name:${p.name}`, p.name).set(`org:${p.org}`, p.name);
  }
  const out: AutoscalerConfig = {
    file,
    intervalMs: r.num(top, "intervalSeconds", "(top level)", 15, 1, 3600) * 1000,
    pools,
  };
  if (top["server"] !== undefined) {
    const s = r.obj(top["server"], "server", ["url", "fingerprint"]);
    const url = r.str(s, "url", "server");
    if (!/^https:\/\/[^/\s]+\/?$/.test(url))
      r.fail("server.url", `must be https://HOST:PORT, not ${JSON.stringify(url)}`);
    out.server = { url: url.replace(/\/$/, ""), fingerprint: r.str(s, "fingerprint", "server") };
  }
  return out;
}

export function loadAutoscalerConfig(file: string, o: LoadOptions): AutoscalerConfig {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new Error(
      `autoscaler config ${file}: cannot read it: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
  return parseAutoscalerConfig(file, text, o);
}
