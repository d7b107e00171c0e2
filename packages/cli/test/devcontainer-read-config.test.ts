// `warren devcontainer read-config` as a user runs it: a directory, a git URL (cloned shallowly
// with the host's git into a temp folder that is removed), and the errors a user can make.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { runCli } from "./fake-daemon.ts";

let work: string;
let repo: string;

before(() => {
  work = mkdtempSync(path.join(tmpdir(), "warren-read-config-test-"));
  repo = path.join(work, "shop");
  mkdirSync(path.join(repo, ".devcontainer", "feat"), { recursive: true });
  writeFileSync(
    path.join(repo, ".devcontainer", "devcontainer.json"),
    `// JSONC
{
  "image": "debian:12",
  "features": { "./feat": {} },
  "containerEnv": { "WHO": "\${localEnv:WARREN_RC_WHO}", "WS": "\${containerWorkspaceFolder}" },
  "forwardPorts": [3000],
  "portsAttributes": { "3000": { "label": "Web" } },
  "postCreateCommand": "make",
  "privileged": true,
}`,
  );
  writeFileSync(
    path.join(repo, ".devcontainer", "feat", "devcontainer-feature.json"),
    '{ "id": "feat", "postCreateCommand": "feature-setup" }',
  );
  const git = (...args: string[]) =>
    execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@t", ...args], {
      cwd: repo,
      stdio: "ignore",
    });
  git("init", "-q", "-b", "main");
  git("add", ".");
  git("commit", "-q", "-m", "init");
});
after(() => rmSync(work, { recursive: true, force: true }));

test("a directory: merged configuration, local Features, variables from the CLI user's environment", async () => {
  const r = await runCli(["devcontainer", "read-config", repo, "--json"], { env: { WARREN_RC_WHO: "ada" } });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.equal(out.configFile, ".devcontainer/devcontainer.json");
  assert.deepEqual(out.mergedConfiguration.containerEnv, { WHO: "ada", WS: "/workspaces/shop" });
  assert.deepEqual(out.mergedConfiguration.postCreateCommands, ["feature-setup", "make"]);
  assert.deepEqual(out.features, ["./feat"]);
  assert.match(
    out.refused,
    /devcontainer\.json asks for privileged: true: refused by the organisation's policy allowPrivileged/,
  );
});

test("a git URL is cloned to a temporary folder, read and removed; the summary names ports and hooks", async () => {
  const tempsBefore = readdirSync(tmpdir()).filter((n) => n.startsWith("warren-read-config-")).length;
  const r = await runCli(["devcontainer", "read-config", `file://${repo}`]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^ports: +3000 \(Web\)$/m);
  assert.match(r.stdout, /^postCreateCommand: make$/m);
  assert.match(r.stdout, /^workspace: +\/workspaces\/shop$/m);
  assert.equal(readdirSync(tmpdir()).filter((n) => n.startsWith("warren-read-config-")).length, tempsBefore);
});

test("mistakes are user errors that say what to do", async () => {
  const none = await runCli(["devcontainer", "read-config", work]);
  assert.equal(none.status, 1);
  assert.match(none.stderr, /no devcontainer\.json in .*add one, or pass --devcontainer PATH/);
  const bad = path.join(work, "bad");
  mkdirSync(bad);
  writeFileSync(path.join(bad, ".devcontainer.json"), '{\n  "forwardPorts": ["web"]\n}');
  const r = await runCli(["devcontainer", "read-config", bad]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^warren: \.devcontainer\.json:2:20: forwardPorts\[0\]: .*HOST:PORT/m);
  const escaping = await runCli(["devcontainer", "read-config", repo, "--devcontainer", "../x.json"]);
  assert.equal(escaping.status, 1);
  assert.match(escaping.stderr, /escapes the repository/);
});
