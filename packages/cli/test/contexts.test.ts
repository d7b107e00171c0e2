// Saved contexts: the file's CRUD and mode, and `warren context` never printing a token.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import {
  contextsPath,
  currentContext,
  listContexts,
  readContexts,
  removeContext,
  saveContext,
  useContext,
} from "../src/contexts.ts";
import { runCli } from "./fake-daemon.ts";

const FP = "AB:".repeat(31) + "AB";
const TOKEN = "wrn_secret_do_not_print";
const home = mkdtempSync(path.join(tmpdir(), "warren-ctx-"));
after(() => rmSync(home, { recursive: true, force: true }));

describe("contexts file", () => {
  const env = { XDG_CONFIG_HOME: home };
  const file = contextsPath(env);

  it("lives under XDG_CONFIG_HOME/warren", () => {
    assert.equal(file, path.join(home, "warren", "contexts.json"));
  });

  it("saves, uses, lists and removes, always 0600", () => {
    saveContext("prod", { url: "https://prod:7443", fingerprint: FP, token: TOKEN }, { use: true }, file);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(statSync(path.dirname(file)).mode & 0o777, 0o700);
    assert.equal(currentContext(env)?.name, "prod");
    assert.equal(currentContext(env)?.ctx.token, TOKEN);

    saveContext("dev", { url: "https://dev:7443", fingerprint: FP }, { use: false }, file);
    assert.deepEqual(
      listContexts(file, env).map((c) => [c.name, c.current, c.hasToken]),
      [
        ["local", false, false],
        ["dev", false, false],
        ["prod", true, true],
      ],
    );
    assert.ok(!JSON.stringify(listContexts(file, env)).includes(TOKEN));

    useContext("local", file);
    assert.equal(currentContext(env), undefined);
    useContext("dev", file);
    assert.equal(currentContext({ ...env, WARREN_CONTEXT: "prod" })?.name, "prod");
    assert.throws(() => useContext("nope", file), /no context named "nope"/);

    removeContext("dev", file);
    assert.equal(readContexts(file).current, undefined);
    assert.deepEqual(Object.keys(readContexts(file).contexts), ["prod"]);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.throws(() => saveContext("local", { url: "https://x:1", fingerprint: FP }, { use: false }, file));
  });
});

describe("warren context", () => {
  const cliHome = mkdtempSync(path.join(tmpdir(), "warren-ctx-cli-"));
  after(() => rmSync(cliHome, { recursive: true, force: true }));
  const env = { XDG_CONFIG_HOME: cliHome, WARREN_SOCKET: undefined, WARREN_CONTEXT: undefined };
  const file = contextsPath({ XDG_CONFIG_HOME: cliHome });

  it("ls --json lists contexts without tokens; use and rm change the file", async () => {
    saveContext("prod", { url: "https://prod:7443", fingerprint: FP, token: TOKEN }, { use: true }, file);
    const ls = await runCli(["context", "ls", "--json"], { env });
    assert.equal(ls.status, 0, ls.stderr);
    assert.ok(!ls.stdout.includes(TOKEN) && !ls.stderr.includes(TOKEN));
    const items = JSON.parse(ls.stdout) as { name: string; current: boolean; hasToken: boolean }[];
    assert.deepEqual(
      items.map((c) => [c.name, c.current, c.hasToken]),
      [
        ["local", false, false],
        ["prod", true, true],
      ],
    );
    const table = await runCli(["context", "ls"], { env });
    assert.equal(table.status, 0, table.stderr);
    assert.ok(!table.stdout.includes(TOKEN));

    assert.equal((await runCli(["context", "use", "local"], { env })).status, 0);
    assert.equal(readContexts(file).current, undefined);
    const bad = await runCli(["context", "use", "nope"], { env });
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /no context named "nope"/);
    assert.equal((await runCli(["context", "rm", "prod"], { env })).status, 0);
    assert.deepEqual(readContexts(file).contexts, {});
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.ok(!readFileSync(file, "utf8").includes(TOKEN));
  });

  it("login refuses a malformed fingerprint and saves nothing", async () => {
    const r = await runCli(["login", "https://127.0.0.1:1", "--fingerprint", "nope", "--token", "wrn_x"], {
      env,
    });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /not a SHA-256 certificate fingerprint/);
    assert.deepEqual(readContexts(file).contexts, {});
  });
});
