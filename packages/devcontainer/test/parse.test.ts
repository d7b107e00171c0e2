import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { findDevcontainerConfigs, imageSource, parseDevcontainer } from "@warren/devcontainer";
import { WarrenError } from "@warren/protocol";

const fixtures = path.join(import.meta.dirname, "fixtures");

test("every conformance fixture parses", () => {
  for (const c of readdirSync(fixtures)) {
    const dir = path.join(fixtures, c, ".devcontainer");
    const file = readdirSync(dir).includes("devcontainer.json")
      ? path.join(dir, "devcontainer.json")
      : path.join(dir, readdirSync(dir)[0]!, "devcontainer.json");
    const { config } = parseDevcontainer(readFileSync(file, "utf8"), file);
    assert.equal(typeof config, "object", c);
  }
});

const ERRORS: { name: string; text: string; line: number; column: number; path: string; says: RegExp }[] = [
  {
    name: "syntax",
    text: '{\n  "image": "x"\n  "name": "y"\n}',
    line: 3,
    column: 3,
    path: "",
    says: /comma is missing/,
  },
  {
    name: "unclosed string",
    text: '{ "image": "x }',
    line: 1,
    column: 12,
    path: "",
    says: /not closed|invalid JSON/,
  },
  {
    name: "not an object",
    text: "[1]",
    line: 1,
    column: 1,
    path: "",
    says: /expected an object, got an array/,
  },
  {
    name: "image type",
    text: '{\n "image": 3\n}',
    line: 2,
    column: 11,
    path: "image",
    says: /expected a string, got a number/,
  },
  {
    name: "port range",
    text: '{"forwardPorts": [3000, 70000]}',
    line: 1,
    column: 25,
    path: "forwardPorts[1]",
    says: /out of range/,
  },
  {
    name: "port attr enum",
    text: '{"portsAttributes": {"3000": {"onAutoForward": "loud"}}}',
    line: 1,
    column: 48,
    path: 'portsAttributes["3000"].onAutoForward',
    says: /one of "notify"/,
  },
  {
    name: "hook type",
    text: '{"postCreateCommand": 5}',
    line: 1,
    column: 23,
    path: "postCreateCommand",
    says: /a command/,
  },
  {
    name: "parallel hook",
    text: '{"postStartCommand": {"a": 1}}',
    line: 1,
    column: 28,
    path: "postStartCommand.a",
    says: /command string/,
  },
  {
    name: "env value",
    text: '{"containerEnv": {"A": true}}',
    line: 1,
    column: 24,
    path: "containerEnv.A",
    says: /expected a string/,
  },
  {
    name: "memory size",
    text: '{"hostRequirements": {"memory": "8 GB"}}',
    line: 1,
    column: 33,
    path: "hostRequirements.memory",
    says: /8gb/,
  },
  {
    name: "mount target",
    text: '{"mounts": ["source=a,type=volume"]}',
    line: 1,
    column: 13,
    path: "mounts[0]",
    says: /no target/,
  },
  {
    name: "relative target",
    text: '{"mounts": ["source=a,target=data"]}',
    line: 1,
    column: 13,
    path: "mounts[0]",
    says: /absolute/,
  },
  {
    name: "proto key",
    text: '{"containerEnv": {"__proto__": "x"}}',
    line: 1,
    column: 19,
    path: "containerEnv.__proto__",
    says: /not a valid name/,
  },
  {
    name: "feature value",
    text: '{"features": {"./f": 3}}',
    line: 1,
    column: 22,
    path: 'features["./f"]',
    says: /version string/,
  },
  {
    name: "waitFor",
    text: '{"waitFor": "postAttachCommand"}',
    line: 1,
    column: 13,
    path: "waitFor",
    says: /one of/,
  },
  {
    name: "localEnv without a name",
    text: `{"containerEnv": {"A": "$\{localEnv}"}}`,
    line: 1,
    column: 24,
    path: "containerEnv.A",
    says: /names no variable/,
  },
  {
    name: "too deep",
    text: `{"customizations": {"x": ${"[".repeat(100)}${"]".repeat(100)}}}`,
    line: 1,
    column: 88,
    path: "",
    says: /nested more than 64/,
  },
];

for (const e of ERRORS) {
  test(`a wrong devcontainer.json says where and what: ${e.name}`, () => {
    assert.throws(
      () => parseDevcontainer(e.text, ".devcontainer/devcontainer.json"),
      (err: unknown) => {
        assert.ok(err instanceof WarrenError);
        assert.equal(err.code, "INVALID_ARGUMENT");
        assert.deepEqual(
          { line: err.details?.["line"], column: err.details?.["column"], path: err.details?.["path"] },
          { line: e.line, column: e.column, path: e.path },
        );
        assert.ok(
          err.message.startsWith(`.devcontainer/devcontainer.json:${e.line}:${e.column}: `),
          err.message,
        );
        assert.match(err.message, e.says);
        return true;
      },
    );
  });
}

test("unknown properties warn with their position; ignored ones say why", () => {
  const { config, warnings } = parseDevcontainer('{\n  "imgae": "x",\n  "appPort": 3000\n}', "d.json");
  assert.equal((config as Record<string, unknown>)["imgae"], "x");
  assert.equal(warnings.length, 2);
  assert.match(warnings[0]!, /^d\.json:2:3: imgae: unknown property/);
  assert.match(warnings[1]!, /^d\.json:3:3: appPort: ignored: .*forwardPorts/);
});

test("discovery follows the spec's order", () => {
  assert.deepEqual(
    findDevcontainerConfigs([
      "src/x.ts",
      ".devcontainer/b/devcontainer.json",
      ".devcontainer.json",
      ".devcontainer/a/devcontainer.json",
      ".devcontainer/devcontainer.json",
      ".devcontainer/a/b/devcontainer.json",
    ]),
    [
      ".devcontainer/devcontainer.json",
      ".devcontainer.json",
      ".devcontainer/a/devcontainer.json",
      ".devcontainer/b/devcontainer.json",
    ],
  );
  assert.deepEqual(findDevcontainerConfigs(["README.md"]), []);
});

test("image source: a Dockerfile and context resolve inside the repository; escaping is refused", () => {
  assert.deepEqual(
    imageSource(
      { build: { dockerfile: "Dockerfile", context: "..", args: { A: "1" } } },
      ".devcontainer/devcontainer.json",
    ),
    {
      kind: "dockerfile",
      dockerfile: ".devcontainer/Dockerfile",
      context: ".",
      args: { A: "1" },
    },
  );
  assert.deepEqual(imageSource({ image: "debian:12" }, ".devcontainer.json"), {
    kind: "image",
    image: "debian:12",
  });
  assert.deepEqual(imageSource({}, ".devcontainer.json"), { kind: "none" });
  assert.throws(
    () =>
      imageSource(
        { build: { dockerfile: "Dockerfile", context: "../.." } },
        ".devcontainer/devcontainer.json",
      ),
    /build context \.\.\/\.\. escapes the repository/,
  );
  assert.throws(() => imageSource({ dockerFile: "/etc/Dockerfile" }, ".devcontainer.json"), /absolute path/);
});
