// .warren/automations.yaml parsing: each case a table row. Problems carry file:line:column and the
// property path; warnings never fail; nothing of a malformed file is returned.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { WarrenError } from "@warren/protocol";
import { parseAutomations, readAutomations, supervisorConfig } from "../src/automations.ts";

const F = ".warren/automations.yaml";

describe("parseAutomations: valid files", () => {
  it("reads services and tasks with defaults", () => {
    const r = parseAutomations(
      [
        "services:",
        "  db:",
        "    command: postgres -D /data",
        "    ready: { port: 5432 }",
        "  web:",
        "    description: the app",
        "    command: |",
        "      npm start",
        "    ready:",
        "      command: curl -sf localhost:3000",
        "    restart: always",
        "    dependsOn: [db, setup]",
        "tasks:",
        "  setup:",
        "    command: npm ci",
        "    triggeredBy: [postEnvironmentStart, manual]",
        "  seed:",
        "    command: ./seed.sh",
        "    dependsOn: db",
      ].join("\n"),
    );
    assert.deepEqual(r.problems, []);
    assert.deepEqual(r.automations, {
      services: [
        {
          name: "db",
          restart: "on-failure",
          dependsOn: [],
          command: "postgres -D /data",
          ready: { port: 5432 },
        },
        {
          name: "web",
          restart: "always",
          dependsOn: ["db", "setup"],
          description: "the app",
          command: "npm start\n",
          ready: { command: "curl -sf localhost:3000" },
        },
      ],
      tasks: [
        { name: "setup", dependsOn: [], triggeredBy: ["postEnvironmentStart", "manual"], command: "npm ci" },
        { name: "seed", dependsOn: ["db"], triggeredBy: ["manual"], command: "./seed.sh" },
      ],
    });
  });

  it("an empty file, or empty sections, declare nothing", () => {
    for (const t of ["", "# nothing yet\n", "services:\ntasks:\n"]) {
      assert.deepEqual(parseAutomations(t).automations, { services: [], tasks: [] }, JSON.stringify(t));
    }
  });

  it("unknown properties warn with their position and never fail", () => {
    const r = parseAutomations("version: 2\nservices:\n  a:\n    command: x\n    colour: red\n");
    assert.deepEqual(r.problems, []);
    assert.deepEqual(r.warnings, [
      `${F}:1:1: version: unknown property, ignored (automations.yaml has services and tasks)`,
      `${F}:5:5: services.a.colour: unknown property, ignored`,
    ]);
    assert.equal(r.automations?.services.length, 1);
  });
});

describe("parseAutomations: problems", () => {
  const cases: [string, string, string][] = [
    ["YAML syntax", "services: [a\n", `${F}:2:1: `],
    [
      "duplicate key",
      "services:\n  a: {command: x}\n  a: {command: y}\n",
      `${F}:3:3: Map keys must be unique`,
    ],
    ["root not a mapping", "- a\n- b\n", `${F}:1:1: must be a mapping of services and tasks`],
    ["services a list", "services: [a, b]\n", `${F}:1:11: services: must be a mapping of service names`],
    ["no command", "tasks:\n  t:\n    dependsOn: []\n", `${F}:3:5: tasks.t: needs a command`],
    ["number command", "tasks:\n  t:\n    command: 12\n", `${F}:3:14: tasks.t.command: must be a string`],
    ["empty command", "tasks:\n  t:\n    command: '  '\n", `${F}:3:14: tasks.t.command: must not be empty`],
    [
      "bad restart",
      "services:\n  s:\n    command: x\n    restart: sometimes\n",
      `${F}:4:14: services.s.restart: unknown restart policy "sometimes"`,
    ],
    [
      "port out of range",
      "services:\n  s:\n    command: x\n    ready: {port: 70000}\n",
      `${F}:4:19: services.s.ready.port: must be a TCP port`,
    ],
    [
      "both readiness checks",
      "services:\n  s:\n    command: x\n    ready: {port: 1, command: y}\n",
      `${F}:4:12: services.s.ready: needs exactly one of command`,
    ],
    [
      "bad trigger",
      "tasks:\n  t:\n    command: x\n    triggeredBy: [onPush]\n",
      `${F}:4:19: tasks.t.triggeredBy: unknown trigger "onPush"`,
    ],
    ["bad name", "tasks:\n  -t:\n    command: x\n", `${F}:2:3: tasks.-t: invalid name`],
    [
      "name used twice",
      "services:\n  a: {command: x}\ntasks:\n  a: {command: y}\n",
      `${F}:4:3: tasks.a: "a" is already a service`,
    ],
    [
      "unknown dependency",
      "tasks:\n  t:\n    command: x\n    dependsOn: [db]\n",
      `${F}:4:17: tasks.t.dependsOn: unknown service or task "db" (declared: t)`,
    ],
    [
      "self dependency",
      "tasks:\n  t:\n    command: x\n    dependsOn: t\n",
      `${F}:4:16: tasks.t.dependsOn: t cannot depend on itself`,
    ],
    [
      "alias",
      "x: &c echo\ntasks:\n  t:\n    command: *c\n",
      `${F}:4:14: tasks.t.command: aliases (*name) are not supported`,
    ],
    ["too large", `# ${"x".repeat(70 * 1024)}\n`, `${F}:1:1: is larger than 64 KiB`],
  ];
  for (const [name, text, want] of cases) {
    it(name, () => {
      const r = parseAutomations(text);
      assert.equal(r.automations, undefined, "nothing of a malformed file is returned");
      assert.ok(r.errors.length > 0);
      assert.ok(r.errors[0]?.startsWith(want), `${r.errors[0]} should start with ${want}`);
      for (const p of r.problems) assert.ok(p.line >= 1 && p.column >= 1);
    });
  }

  it("names the whole dependency cycle", () => {
    const r = parseAutomations(
      "services:\n  a: {command: x, dependsOn: [b]}\n  b: {command: x, dependsOn: [c]}\n  c: {command: x, dependsOn: [a]}\n",
    );
    assert.match(r.errors[0] ?? "", /dependency cycle: a -> b -> c -> a; remove one/);
  });

  it("readAutomations throws the first problem as INVALID_ARGUMENT with its position", () => {
    assert.throws(
      () => readAutomations("tasks:\n  t:\n    command: 1\n", "repo/.warren/automations.yaml"),
      (e: unknown) =>
        e instanceof WarrenError &&
        e.code === "INVALID_ARGUMENT" &&
        e.message.startsWith("repo/.warren/automations.yaml:3:14: tasks.t.command:") &&
        e.details?.["line"] === 3 &&
        e.details?.["column"] === 14,
    );
  });
});

describe("supervisorConfig", () => {
  it("writes the supervisor's line format with values escaped", () => {
    const text = supervisorConfig(
      {
        services: [
          { name: "web", command: "a\\b\n\tc", restart: "always", dependsOn: ["db"], ready: { port: 80 } },
        ],
        tasks: [{ name: "t", command: "x", dependsOn: [], triggeredBy: ["postEnvironmentStart"] }],
      },
      { user: "vscode", cwd: "/workspaces/r", env: { A: "1\n2" } },
    );
    assert.equal(
      text,
      [
        "version 1",
        "user vscode",
        "cwd /workspaces/r",
        "env A=1\\n2",
        "service web",
        "command a\\\\b\\n\\tc",
        "restart always",
        "ready-port 80",
        "depends db",
        "task t",
        "command x",
        "trigger postEnvironmentStart",
        "",
      ].join("\n"),
    );
  });

  it("refuses what could add lines of its own", () => {
    const a = {
      services: [],
      tasks: [{ name: "t", command: "x", dependsOn: ["a\nuser root"], triggeredBy: [] }],
    };
    assert.throws(() => supervisorConfig(a as never, { cwd: "/w" }), /invalid service or task name/);
    const ok = { services: [], tasks: [] };
    assert.throws(() => supervisorConfig(ok, { cwd: "/w", user: "root\nenv X=1" }), /invalid user/);
    assert.throws(
      () => supervisorConfig(ok, { cwd: "/w", env: { "A\nB": "1" } }),
      /invalid environment variable/,
    );
    assert.throws(() => supervisorConfig(ok, { cwd: "relative" }), /must be absolute/);
  });
});
