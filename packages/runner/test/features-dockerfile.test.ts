// The Dockerfile and context files that install Features: option names as the reference makes
// them, option files whose values reach install.sh literally (sourced by a real sh here), the
// wrapper's environment, and the order and escaping of the generated Dockerfile.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { isWarrenError } from "@warren/protocol";
import {
  BUILTIN_ENV,
  builtinEnvFile,
  compactMetadataLabel,
  envInstructions,
  featureDirName,
  featuresDockerfile,
  INSTALL_WRAPPER,
  installWrapper,
  OPTIONS_ENV,
  optionEnvName,
  optionsEnvFile,
} from "../src/build/features-dockerfile.ts";

/** A variable reference the builder expands, written without tripping the template-string lint. */
const PATH_REF = "$" + "{PATH}";

test("option names become variables as the reference CLI makes them", () => {
  const table: [string, string][] = [
    ["version", "VERSION"],
    ["installZsh", "INSTALLZSH"],
    ["node-gyp", "NODE_GYP"],
    ["a.b c", "A_B_C"],
    ["9lives", "_LIVES"],
    ["__x", "_X"],
    ["_9y", "_Y"],
    ["ünï", "_N_"],
  ];
  for (const [name, want] of table) assert.equal(optionEnvName(name), want, name);
  // Sanitising twice changes nothing: names the control plane already upper-cased stay put.
  for (const [, want] of table) assert.equal(optionEnvName(want), want);
});

function sourced(file: string, vars: string[]): Record<string, string> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "warren-features-env-"));
  try {
    fs.writeFileSync(path.join(dir, "f.env"), file);
    const script = `set -a; . ./f.env; set +a; for v in ${vars.join(" ")}; do eval "printf '%s\\0' \\"\\$$v\\""; done`;
    const out = execFileSync("sh", ["-c", script], {
      cwd: dir,
      env: { PATH: process.env["PATH"] ?? "/usr/bin:/bin", HOME: "/nowhere" },
    });
    const values = out.toString("utf8").split("\0").slice(0, vars.length);
    return Object.fromEntries(vars.map((v, i) => [v, values[i]!]));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test("option values reach the install script literally, whatever they contain", () => {
  const options = {
    version: "18.2",
    flag: true,
    off: false,
    tricky: 'a "quoted" $HOME `id` \\ back $(echo no)',
    "multi-line": "one\ntwo",
  };
  const text = optionsEnvFile(options);
  assert.match(text, /^VERSION="18.2"$/m);
  assert.match(text, /^FLAG="true"$/m);
  const got = sourced(text, ["VERSION", "FLAG", "OFF", "TRICKY", "MULTI_LINE"]);
  assert.deepEqual(got, {
    VERSION: "18.2",
    FLAG: "true",
    OFF: "false",
    TRICKY: options.tricky,
    MULTI_LINE: "one\ntwo",
  });
});

test("an option that is not a string or boolean is refused by name", () => {
  assert.throws(
    () => optionsEnvFile({ good: "x", bad: 3 as unknown as string }),
    (e: unknown) => isWarrenError(e) && /option bad/.test(e.message),
  );
});

test("the wrapper sources the built-in env and the options, then runs install.sh from its folder", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "warren-features-wrap-"));
  try {
    const fdir = path.join(dir, featureDirName(0, "hello"));
    fs.mkdirSync(fdir);
    fs.writeFileSync(
      path.join(dir, BUILTIN_ENV),
      `${builtinEnvFile("root", "dev")}_REMOTE_USER_HOME=/home/dev\n_CONTAINER_USER_HOME=/root\n`,
    );
    fs.writeFileSync(path.join(fdir, OPTIONS_ENV), optionsEnvFile({ greeting: "hi there" }));
    fs.writeFileSync(
      path.join(fdir, "install.sh"),
      '#!/bin/sh\necho "$GREETING|$_REMOTE_USER|$_REMOTE_USER_HOME|$_CONTAINER_USER|$_CONTAINER_USER_HOME|$(pwd)"\n',
    );
    const layer = { dir: "0-hello", id: "hello", name: "Hello 'World'", options: { greeting: "hi there" } };
    fs.writeFileSync(path.join(fdir, INSTALL_WRAPPER), installWrapper(layer), { mode: 0o755 });
    const out = execFileSync("sh", [`./${INSTALL_WRAPPER}`], { cwd: fdir }).toString();
    assert.match(out, /Feature {7}: Hello 'World'/);
    assert.ok(out.includes(`hi there|dev|/home/dev|root|/root|${fdir}`), out);
    // A failing install names the Feature and fails the step.
    fs.writeFileSync(path.join(fdir, "install.sh"), "#!/bin/sh\nexit 7\n");
    let failed: { status: number; stdout: Buffer } | undefined;
    try {
      execFileSync("sh", [`./${INSTALL_WRAPPER}`], { cwd: fdir, stdio: "pipe" });
    } catch (e) {
      failed = e as { status: number; stdout: Buffer };
    }
    assert.equal(failed?.status, 7);
    assert.match(
      failed?.stdout.toString() ?? "",
      /ERROR: Feature "Hello 'World'" \(hello\) failed to install!/,
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("the Dockerfile installs Features in the order given, each after its containerEnv, and restores the user", () => {
  const text = featuresDockerfile({
    base: "127.0.0.1:5000/base:1",
    imageUser: "1000:1000",
    containerUser: "root",
    remoteUser: "dev",
    features: [
      {
        dir: "0-b",
        id: "b",
        options: {},
        containerEnv: { B_HOME: "/opt/b", PATH: `/opt/b/bin:${PATH_REF}` },
      },
      { dir: "1-a", id: "a", options: { x: "1" } },
    ],
  });
  const lines = text.split("\n");
  assert.deepEqual(lines.slice(0, 3), [
    "FROM 127.0.0.1:5000/base:1",
    "USER root",
    "COPY . /tmp/dev-container-features/",
  ]);
  const at = (s: string) => lines.findIndex((l) => l.startsWith(s));
  // One ENV for b's variables (PATH names none of the others set with it), then b's RUN.
  assert.equal(lines[at("ENV ")], `ENV B_HOME="/opt/b" PATH="/opt/b/bin:${PATH_REF}"`);
  const runs = lines.map((l, i) => [l, i] as const).filter(([l]) => l.startsWith("RUN "));
  assert.equal(runs.length, 2, "one RUN per Feature");
  assert.ok(at("ENV ") < runs[0]![1]);
  assert.ok(
    text.indexOf("cd /tmp/dev-container-features/0-b") < text.indexOf("cd /tmp/dev-container-features/1-a"),
    "b before a",
  );
  assert.ok(
    text.includes(" && ./devcontainer-features-install.sh \\\n && rm -rf /tmp/dev-container-features/1-a"),
  );
  assert.equal(
    lines.filter((l) => l.trim()).at(-1),
    "USER 1000:1000",
    "the image's user comes back after the installs",
  );
  assert.match(text, /_REMOTE_USER_HOME=\$\( \(command -v getent .*getent passwd 'dev'/);
  assert.ok(
    !text.includes("LABEL"),
    "the metadata label goes to the builder as an argument, not into the text",
  );
  // It is checked and compacted first: nothing in it is ever expanded.
  const label = [{ id: "b" }, { remoteUser: "dev", note: 'say "$HI" \\ ok' }];
  assert.equal(compactMetadataLabel(JSON.stringify(label, null, 2)), JSON.stringify(label));
});

test("the Dockerfile refuses what would inject instructions", () => {
  const base = { base: "img", imageUser: "", containerUser: "root", remoteUser: "root", features: [] };
  const refused = (what: RegExp, f: () => unknown) =>
    assert.throws(
      f,
      (e: unknown) => isWarrenError(e) && e.code === "INVALID_ARGUMENT" && what.test(e.message),
    );
  refused(/remoteUser/, () => featuresDockerfile({ ...base, remoteUser: "dev\nRUN id" }));
  refused(/remoteUser/, () => featuresDockerfile({ ...base, remoteUser: "x'; rm -rf /; '" }));
  refused(/base image/, () => featuresDockerfile({ ...base, base: "img\nRUN id" }));
  refused(/not a plain name/, () =>
    featuresDockerfile({ ...base, features: [{ dir: "../x", id: "x", options: {} }] }),
  );
  refused(/one-line/, () => envInstructions({ A: "x\nRUN id" }, "Feature x"));
  // A value naming a variable set just before it gets its own ENV, so it sees the new value.
  assert.deepEqual(envInstructions({ A: "1", B: "$A-x", C: PATH_REF, D: "$AB" }, "Feature x"), [
    'ENV A="1"',
    `ENV B="$A-x" C="${PATH_REF}" D="$AB"`,
  ]);
  refused(/valid variable name/, () => envInstructions({ "A B": "x" }, "Feature x"));
  refused(/not JSON/, () => compactMetadataLabel("{"));
  refused(/user/, () => featuresDockerfile({ ...base, imageUser: "a b" }));
  assert.equal(featureDirName(3, "../../x y"), "3-.._.._x_y");
});

test("the RUN step that records the users' homes works in sh", () => {
  const text = featuresDockerfile({
    base: "img",
    imageUser: "",
    containerUser: "root",
    remoteUser: "0",
    features: [],
  });
  const run = /^RUN ([\s\S]*?)\n\n/m.exec(`${text}\n`)![1]!.replace(/\\\n/g, "");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "warren-features-home-"));
  try {
    const cmd = run.replaceAll("/tmp/dev-container-features", dir);
    execFileSync("sh", ["-c", cmd]);
    assert.equal(
      fs.readFileSync(`${dir}/devcontainer-features.builtin.env`, "utf8"),
      "_CONTAINER_USER_HOME=/root\n_REMOTE_USER_HOME=/root\n",
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
