// biome-ignore-all lint/suspicious/noTemplateCurlyInString: devcontainer.json variables are written ${like:this} in plain strings
// 10,000 generated and mutated devcontainer.json texts through parse, substitute, merge, policy,
// ports, hooks, class pick and Feature order: nothing but WarrenError may come out, and every
// parse error carries a line and a column.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  checkPolicy,
  forwardedPorts,
  imageSource,
  lifecycleCommands,
  mergeConfiguration,
  orderFeatures,
  parseDevcontainer,
  pickClassFor,
  substituteVariables,
  volumeMounts,
} from "@warren/devcontainer";
import { type ClassSpec, LIFECYCLE_HOOKS, WarrenError } from "@warren/protocol";

let seed = 0x5eed;
const rand = () => {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  return seed / 0x80000000;
};
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;

const KEYS = [
  "image",
  "build",
  "features",
  "forwardPorts",
  "portsAttributes",
  "otherPortsAttributes",
  "containerEnv",
  "remoteEnv",
  "remoteUser",
  "containerUser",
  "mounts",
  "capAdd",
  "securityOpt",
  "privileged",
  "init",
  "runArgs",
  "hostRequirements",
  "workspaceFolder",
  "waitFor",
  "overrideFeatureInstallOrder",
  "dockerComposeFile",
  "customizations",
  "userEnvProbe",
  ...LIFECYCLE_HOOKS,
  "initializeCommand",
  "__proto__",
  "constructor",
  "unknownThing",
  "",
];
const STRINGS = [
  "",
  "x",
  "${localEnv:HOME}",
  "${localEnv}",
  "${containerEnv:PATH}",
  "${devcontainerId}",
  "${",
  "}",
  "${a:b:c:d}",
  "source=v,target=/v,type=volume",
  "source=/,target=/h,type=bind",
  "type=tmpfs,target=/t",
  "target=rel",
  "../..",
  "localhost:3000",
  "db:5432",
  "8gb",
  "1tb",
  "SYS_ADMIN",
  "CHOWN",
  "./feat",
  "ghcr.io/o/f:1",
  "updateContentCommand",
  "\u0000",
  "😀",
  "\\",
  "a".repeat(300),
];

function value(depth: number): unknown {
  const r = rand();
  if (depth > 3 || r < 0.3) return pick(STRINGS);
  if (r < 0.4) return Math.floor(rand() * 200000) - 100;
  if (r < 0.45) return rand() < 0.5;
  if (r < 0.5) return null;
  if (r < 0.75) return Array.from({ length: Math.floor(rand() * 4) }, () => value(depth + 1));
  const o: Record<string, unknown> = {};
  for (let i = Math.floor(rand() * 4); i > 0; i--)
    Object.defineProperty(o, pick([...KEYS, ...STRINGS]), {
      value: value(depth + 1),
      enumerable: true,
      configurable: true,
    });
  return o;
}

/** A plausible configuration: mostly right types, so later stages see real work. */
function plausible(): Record<string, unknown> {
  const c: Record<string, unknown> = {};
  const set = (k: string, v: unknown) =>
    Object.defineProperty(c, k, { value: v, enumerable: true, configurable: true });
  if (rand() < 0.5) set("image", "debian:12");
  if (rand() < 0.3) set("build", { dockerfile: "Dockerfile", context: pick([".", "..", "../.."]) });
  if (rand() < 0.4) set("features", { "./a": {}, "./b": pick([true, "1", { v: "x" }]) });
  if (rand() < 0.4) set("forwardPorts", [3000, pick(["localhost:8080", "db:5432", 65535])]);
  if (rand() < 0.4) set("mounts", [pick(STRINGS.slice(9, 13))]);
  if (rand() < 0.3) set("capAdd", [pick(["SYS_ADMIN", "CHOWN"])]);
  if (rand() < 0.2) set("privileged", rand() < 0.5);
  if (rand() < 0.3) set("hostRequirements", { cpus: pick([1, 4, 64]), memory: pick(["8gb", "1tb"]) });
  if (rand() < 0.4) set(pick(LIFECYCLE_HOOKS), pick(["echo", ["a", "b"], { p: "x", q: ["y"] }]));
  if (rand() < 0.3) set("containerEnv", { A: pick(STRINGS) });
  for (let i = Math.floor(rand() * 3); i > 0; i--) set(pick(KEYS), value(0));
  return c;
}

const PIECES = [
  "{",
  "}",
  "[",
  "]",
  ",",
  ":",
  '"',
  "//",
  "/*",
  "*/",
  "\n",
  "null",
  "true",
  "1e999",
  "-",
  "\\u12",
  "\u2028",
];

function mutate(text: string): string {
  let t = text;
  for (let n = Math.floor(rand() * 4); n >= 0; n--) {
    const i = Math.floor(rand() * (t.length + 1));
    const r = rand();
    if (r < 0.35) t = t.slice(0, i) + t.slice(i + 1 + Math.floor(rand() * 3));
    else if (r < 0.75) t = t.slice(0, i) + pick(PIECES) + t.slice(i);
    else if (r < 0.9)
      t = t.slice(0, i) + t.slice(Math.floor(rand() * t.length), Math.floor(rand() * t.length)) + t.slice(i);
    else t = t.slice(0, i);
  }
  return t;
}

const classes = [{ name: "s", cpus: 2, memoryBytes: 2 ** 32, diskBytes: 2 ** 34 }] as ClassSpec[];
const vars = {
  localWorkspaceFolder: "/w/r",
  containerWorkspaceFolder: "/workspaces/r",
  localEnv: { HOME: "/home/u" },
  devcontainerId: "id",
};

test("10,000 fuzzed devcontainer.json inputs: only WarrenError, and parse errors have line:column", () => {
  const t0 = Date.now();
  const outcomes = { ok: 0, parseError: 0, laterError: 0 };
  for (let i = 0; i < 10_000; i++) {
    const json = JSON.stringify(plausible(), null, rand() < 0.5 ? 2 : undefined);
    const text = i % 4 === 0 ? json : mutate(json);
    let parsed: ReturnType<typeof parseDevcontainer>;
    try {
      parsed = parseDevcontainer(text, "f.json");
    } catch (e) {
      assert.ok(e instanceof WarrenError, `input ${i} ${JSON.stringify(text)}: ${e}`);
      assert.ok(
        Number.isInteger(e.details?.["line"]) && Number.isInteger(e.details?.["column"]),
        `${i}: ${e.message}`,
      );
      assert.match(e.message, /^f\.json:\d+:\d+: /);
      outcomes.parseError++;
      continue;
    }
    try {
      const config = substituteVariables(parsed.config, vars);
      imageSource(config, ".devcontainer/devcontainer.json");
      const features = Object.keys(config.features ?? {}).map((s) => ({
        source: s,
        id: s,
        metadata: { installsAfter: ["./a"] },
      }));
      orderFeatures(features, config.overrideFeatureInstallOrder);
      const merged = mergeConfiguration(config, [], features);
      checkPolicy(merged);
      volumeMounts(merged.mounts);
      forwardedPorts(merged);
      for (const h of LIFECYCLE_HOOKS) lifecycleCommands(merged, h);
      pickClassFor(merged.hostRequirements, classes);
      outcomes.ok++;
    } catch (e) {
      assert.ok(e instanceof WarrenError, `input ${i} ${JSON.stringify(text)}: ${(e as Error).stack}`);
      outcomes.laterError++;
    }
  }
  console.log(`outcomes: ${JSON.stringify(outcomes)} in ${Date.now() - t0} ms`);
  // Each path was exercised, so the test can fail on any of them.
  assert.ok(
    outcomes.ok > 500 && outcomes.parseError > 500 && outcomes.laterError > 500,
    JSON.stringify(outcomes),
  );
  assert.ok(Date.now() - t0 < 10_000, `took ${Date.now() - t0} ms`);
});
