// 10,000 generated and mutated automations.yaml files through parse, read and the supervisor's
// configuration: nothing throws but a WarrenError, every problem has a line and a column, and
// whatever parses keeps the promises the supervisor relies on (known names, no self-dependency).
// Seeded, so a failure names the input that caused it and reproduces.
import assert from "node:assert/strict";
import { it } from "node:test";
import { AUTOMATION_NAME_RE, WarrenError } from "@warren/protocol";
import { parseAutomations, readAutomations, supervisorConfig } from "../src/automations.ts";

const SEEDS = [
  "services:\n  db:\n    command: postgres\n    ready: { port: 5432 }\n  web:\n    command: |\n      npm start\n    restart: always\n    dependsOn: [db]\ntasks:\n  setup:\n    command: npm ci\n    triggeredBy: [postEnvironmentStart]\n",
  "tasks:\n  a:\n    command: echo a\n    dependsOn: b\n  b:\n    command: echo b\n    triggeredBy: manual\n",
  'services: {api: {command: "./api", ready: {command: "curl -f localhost"}, restart: never}}\n',
  "services:\n  x:\n    description: 'd'\n    command: >\n      folded\n      text\n",
  "",
];
const PIECES = [
  ":",
  "-",
  "[",
  "]",
  "{",
  "}",
  "&a",
  "*a",
  "!!int ",
  "!x ",
  "|",
  ">",
  "#",
  "'",
  '"',
  "\n",
  "  ",
  "\t",
  "?",
  "%YAML 1.1\n---\n",
  "@",
  "`",
  "\0",
  "😀",
  "\\",
  ",",
  "null",
  "~",
  "65536",
  "-1",
  "1e3",
  "true",
  "0x10",
  "<<: *a\n",
  "---\n",
  "...\n",
  "\r\n",
  "\uFEFF",
];
const TOKENS = [
  "services",
  "tasks",
  "command",
  "ready",
  "port",
  "restart",
  "dependsOn",
  "triggeredBy",
  "description",
  "always",
  "on-failure",
  "postDevcontainerStart",
  "db",
  "web",
  "setup",
  "a",
  "b",
];

let state = 0x9e3779b9;
function rand(n: number): number {
  state ^= state << 13;
  state ^= state >>> 17;
  state ^= state << 5;
  return (state >>> 0) % n;
}
const pick = <T>(xs: readonly T[]): T => xs[rand(xs.length)] as T;

function generate(): string {
  const lines: string[] = [];
  for (const section of ["services", "tasks"]) {
    if (rand(3) === 0) continue;
    lines.push(`${section}:`);
    for (let i = rand(4); i > 0; i--) {
      lines.push(`  ${pick(TOKENS)}${rand(5) === 0 ? "x" : ""}:`);
      for (let k = rand(5); k > 0; k--) {
        const key = pick(TOKENS);
        const v =
          rand(4) === 0
            ? `[${pick(TOKENS)}, ${pick(TOKENS)}]`
            : rand(3) === 0
              ? String(rand(70000))
              : pick(TOKENS);
        lines.push(`    ${key}: ${v}`);
      }
    }
  }
  return lines.join("\n");
}

function mutate(text: string): string {
  let t = text;
  for (let n = 1 + rand(4); n > 0; n--) {
    const at = rand(t.length + 1);
    switch (rand(6)) {
      case 0:
        t = t.slice(0, at) + t.slice(at + 1 + rand(8));
        break;
      case 1:
        t = t.slice(0, at) + pick(PIECES) + t.slice(at);
        break;
      case 2:
        t = t.slice(0, at) + pick(TOKENS) + t.slice(at);
        break;
      case 3: {
        const lines = t.split("\n");
        const i = rand(lines.length);
        lines.splice(rand(lines.length), 0, lines[i] ?? "");
        t = lines.join("\n");
        break;
      }
      case 4:
        t = t.replace(/^ +/gm, (s) => (rand(4) === 0 ? s + " " : s));
        break;
      default:
        t = t.slice(0, at) + "x".repeat(rand(20) === 0 ? 9000 : 40) + t.slice(at);
    }
  }
  return t;
}

it("10,000 generated and mutated files: only WarrenErrors, each problem with line and column", () => {
  let parsed = 0;
  let refused = 0;
  for (let i = 0; i < 10_000; i++) {
    const text = i % 4 === 0 ? generate() : mutate(i % 4 === 1 ? generate() : pick(SEEDS));
    const where = `input #${i}: ${JSON.stringify(text.slice(0, 300))}`;
    let r: ReturnType<typeof parseAutomations>;
    try {
      r = parseAutomations(text);
    } catch (err) {
      assert.fail(`parseAutomations threw on ${where}: ${(err as Error).stack}`);
    }
    for (const [k, p] of r.problems.entries()) {
      assert.ok(Number.isInteger(p.line) && p.line >= 1, `line of ${r.errors[k]} in ${where}`);
      assert.ok(Number.isInteger(p.column) && p.column >= 1, `column of ${r.errors[k]} in ${where}`);
      assert.match(r.errors[k] ?? "", /^\.warren\/automations\.yaml:\d+:\d+: /);
    }
    // The throwing form parses again; a sample of the inputs keeps the run short.
    if (i % 8 === 0)
      try {
        readAutomations(text);
      } catch (err) {
        assert.ok(err instanceof WarrenError, `readAutomations threw ${String(err)} on ${where}`);
        assert.equal(typeof err.details?.["line"], "number");
        assert.equal(typeof err.details?.["column"], "number");
      }
    if (!r.automations) {
      refused++;
      continue;
    }
    parsed++;
    const a = r.automations;
    const names = new Set([...a.services, ...a.tasks].map((u) => u.name));
    assert.equal(names.size, a.services.length + a.tasks.length, `names unique in ${where}`);
    for (const u of [...a.services, ...a.tasks]) {
      assert.match(u.name, AUTOMATION_NAME_RE);
      for (const d of u.dependsOn)
        assert.ok(names.has(d) && d !== u.name, `dependency ${d} of ${u.name} in ${where}`);
    }
    try {
      supervisorConfig(a, { cwd: "/workspaces/r", user: "dev" });
    } catch (err) {
      assert.ok(err instanceof WarrenError, `supervisorConfig threw ${String(err)} on ${where}`);
    }
  }
  // The corpus must exercise both paths, or it tests little.
  assert.ok(parsed > 500, `only ${parsed} inputs parsed`);
  assert.ok(refused > 500, `only ${refused} inputs were refused`);
});
