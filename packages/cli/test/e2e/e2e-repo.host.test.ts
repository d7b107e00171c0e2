// `warren up --repo` end to end against a real daemon and local git servers (a test netns reached
// through NAT): the clone lands in /workspaces/REPO, devcontainer.json's containerEnv, remoteEnv,
// workspaceFolder and forwardPorts take effect, lifecycle hooks run once per their trigger (marker
// lines across a stop/start and two attaches), a failing postCreateCommand leaves the environment
// running with the failure in ls/inspect/logs and `up` exiting 1 naming it, a private repository
// clones with a git-credentials secret that appears nowhere else, and refusals name the policy.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, afterEach, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type { Environment } from "@warren/protocol";
import { type Harness, makeHarness } from "@warren/testing/e2e-harness";
import { type GitServers, startGitServers } from "@warren/testing/git-servers";

const MARK = (hook: string) => `echo ${hook} >> /workspaces/hooks/.markers`;
const HOOKS_CONFIG = {
  name: "hooks",
  image: "warren/debian:bookworm",
  containerEnv: { FROM_CONTAINER_ENV: "yes" },
  remoteEnv: { FROM_REMOTE_ENV: "also" },
  forwardPorts: [3000],
  portsAttributes: { "3000": { label: "web app", onAutoForward: "notify" } },
  onCreateCommand: MARK("onCreate"),
  updateContentCommand: ["/bin/sh", "-c", MARK("updateContent")],
  postCreateCommand: { a: MARK("postCreateA"), b: MARK("postCreateB") },
  postStartCommand: MARK("postStart"),
  postAttachCommand: MARK("postAttach"),
};

function markers(h: Harness, env: string): string[] {
  const r = h.cli(["exec", env, "--", "cat", "/workspaces/hooks/.markers"]);
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.split("\n").filter(Boolean);
}
const count = (list: string[], m: string) => list.filter((l) => l === m).length;

function inspect(h: Harness, env: string): Environment {
  const r = h.cli(["inspect", env, "--json"]);
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as Environment;
}

describe("warren up --repo (e2e)", { timeout: 600_000 }, () => {
  let h: Harness;
  let git: GitServers;
  before(async () => {
    git = await startGitServers();
    h = await makeHarness("repo");
    await h.startDaemon();
  });
  // Each case removes its environments: their disks' reservations would add up past the host's.
  const made: string[] = [];
  afterEach(() => {
    if (made.length) h.cli(["rm", "-f", ...made.splice(0)]);
  });
  after(async () => {
    await h?.teardown();
    await git?.cleanup();
  });

  it("clones, applies devcontainer.json and runs each hook once per its trigger", async () => {
    made.push("hk");
    await git.createRepo("hooks", {
      ".devcontainer/devcontainer.json": `// JSONC: comments and trailing commas are fine\n${JSON.stringify(HOOKS_CONFIG, null, 2)}\n`,
      "README.md": "hello\n",
    });
    const up = h.cli(["up", "--repo", git.gitUrl("hooks"), "--name", "hk", "--json"]);
    assert.equal(up.status, 0, up.stderr);
    const env = JSON.parse(up.stdout) as Environment;
    assert.equal(env.setup?.phase, "ready");
    assert.equal(env.setup?.dir, "hooks");
    assert.equal(env.setup?.workspaceFolder, "/workspaces/hooks");
    assert.equal(env.setup?.configFile, ".devcontainer/devcontainer.json");
    assert.equal(
      env.spec.project,
      git
        .gitUrl("hooks")
        .replace(/^git:/, "https:")
        .replace(/\.git$/, ""),
    );

    const readme = h.cli(["exec", "hk", "--", "cat", "README.md"]);
    assert.equal(readme.status, 0, readme.stderr);
    assert.equal(readme.stdout, "hello\n", "exec lands in the workspace folder, where the clone is");
    const envs = h.cli([
      "exec",
      "hk",
      "--",
      "sh",
      "-c",
      'echo "$FROM_CONTAINER_ENV $FROM_REMOTE_ENV $(pwd)"',
    ]);
    assert.equal(envs.stdout.trim(), "yes also /workspaces/hooks", envs.stderr);

    let m = markers(h, "hk");
    for (const hook of ["onCreate", "updateContent", "postCreateA", "postCreateB", "postStart"])
      assert.equal(count(m, hook), 1, `${hook} once after create: ${m.join(",")}`);
    assert.ok(m.indexOf("onCreate") < m.indexOf("updateContent"), m.join(","));
    assert.ok(m.indexOf("updateContent") < m.indexOf("postCreateA"), m.join(","));
    assert.ok(m.indexOf("postCreateB") < m.indexOf("postStart"), m.join(","));

    const ports = h.cli(["port", "ls", "hk", "--json"]);
    const p3000 = JSON.parse(ports.stdout).items.find((p: { port: number }) => p.port === 3000);
    assert.equal(p3000?.label, "web app", ports.stdout);
    assert.equal(p3000?.visibility, "private", "portsAttributes never open a port");
    assert.match(h.cli(["port", "ls", "hk"]).stdout, /LABEL[\s\S]*web app/);

    // A stop/start cycle: postStart again, the create-time hooks not.
    assert.equal(h.cli(["stop", "hk"]).status, 0);
    // `up` of the same repository and name starts it again (like `warren start`).
    const again = h.cli(["up", "--repo", git.gitUrl("hooks"), "--name", "hk", "-d"]);
    assert.equal(again.status, 0, again.stderr);
    for (let i = 0; i < 100 && count(markers(h, "hk"), "postStart") < 2; i++) await sleep(200);
    m = markers(h, "hk");
    assert.equal(count(m, "postStart"), 2, m.join(","));
    assert.equal(count(m, "onCreate"), 1, m.join(","));
    assert.equal(count(m, "postCreateA"), 1, m.join(","));

    // Two attaches (interactive sessions): postAttach twice, in the background.
    for (let i = 0; i < 2; i++) {
      const code = await new Promise<number>((resolve, reject) => {
        void h.client
          .exec(
            "hk",
            { cmd: ["/bin/sh", "-c", "exit 0"], tty: true },
            { stdout() {}, stderr() {}, exit: resolve, error: reject },
          )
          .then((s) => s.endStdin(), reject);
      });
      assert.equal(code, 0);
    }
    for (let i = 0; i < 100 && count(markers(h, "hk"), "postAttach") < 2; i++) await sleep(200);
    assert.equal(count(markers(h, "hk"), "postAttach"), 2);
    const logs = h.cli(["logs", "hk"]);
    assert.match(logs.stdout, /\[clone\] /);
    assert.match(logs.stdout, /\[postCreateCommand:a\] |postCreateCommand done/);
  });

  it("a failing postCreateCommand leaves the environment running; up exits 1 naming it", async () => {
    made.push("br");
    await git.createRepo(
      "broken",
      {
        ".devcontainer.json": JSON.stringify({
          image: "warren/debian:bookworm",
          waitFor: "postCreateCommand",
          postCreateCommand: "echo about to fail; exit 2",
          postStartCommand: "echo never >> /tmp/ran",
        }),
      },
      { private: true },
    );
    const url = git.httpUrl("broken");
    const secret = h.cli(
      ["secret", "set", "git-credentials", "--file", "--scope", "project", "--project", url, "--value-stdin"],
      {
        input: `${git.credentialLine()}\n`,
      },
    );
    assert.equal(secret.status, 0, secret.stderr);
    const up = h.cli(["up", "--repo", url, "--name", "br", "-d"]);
    assert.equal(up.status, 1, up.stderr);
    assert.match(up.stderr, /postCreateCommand failed: exit 2/);
    assert.match(up.stderr, /warren hook run br postCreateCommand/);

    const env = inspect(h, "br");
    assert.equal(env.state, "running");
    const cond = env.conditions.find((c) => c.type === "HookFailed");
    assert.equal(cond?.message, "postCreateCommand failed: exit 2");
    const ls = h.cli(["ls", "--json"]);
    assert.match(ls.stdout, /postCreateCommand failed: exit 2/);
    assert.equal(h.cli(["exec", "br", "--", "true"]).status, 0, "still reachable");
    const logs = h.cli(["logs", "br"]).stdout;
    assert.match(logs, /\[postCreateCommand\] about to fail/);
    // The hooks after the failing one did not run.
    assert.notEqual(h.cli(["exec", "br", "--", "test", "-e", "/tmp/ran"]).status, 0);
    // The credential reached nothing it should not.
    for (const text of [logs, JSON.stringify(env), ls.stdout]) assert.ok(!text.includes(git.password));
    const onDisk = spawnSync("grep", ["-rlF", "--", git.password, h.root], { encoding: "utf8" });
    assert.equal(onDisk.stdout, "", `the password is on the host's disk: ${onDisk.stdout}`);

    const rerun = h.cli(["hook", "run", "br", "postCreateCommand"]);
    assert.equal(rerun.status, 1, rerun.stderr);
    assert.match(rerun.stderr, /failed: exit 2/);
    // A rebuild reads the configuration again and reruns the create-time hooks: still failing.
    const rebuilt = h.cli(["rebuild", "br"]);
    assert.equal(rebuilt.status, 1, rebuilt.stderr);
    assert.match(rebuilt.stderr, /postCreateCommand failed: exit 2/);
    assert.equal(inspect(h, "br").setup?.phase, "ready");
    assert.equal(h.cli(["exec", "br", "--", "true"]).status, 0);
  });

  it("refuses privileged and host bind mounts, naming the policy; the environment stays reachable", async () => {
    made.push("pv", "bd");
    await git.createRepo("priv", {
      ".devcontainer/devcontainer.json": JSON.stringify({
        image: "warren/debian:bookworm",
        privileged: true,
      }),
    });
    const up = h.cli(["up", "--repo", git.gitUrl("priv"), "--name", "pv", "-d"]);
    assert.equal(up.status, 1, up.stderr);
    assert.match(up.stderr, /privileged/);
    assert.match(up.stderr, /allowPrivileged/);
    assert.equal(inspect(h, "pv").setup?.phase, "failed");
    assert.equal(h.cli(["exec", "pv", "--", "true"]).status, 0);

    await git.createRepo("bind", {
      ".devcontainer/devcontainer.json": JSON.stringify({
        image: "warren/debian:bookworm",
        mounts: ["type=bind,source=/etc,target=/host-etc"],
      }),
    });
    const bind = h.cli(["up", "--repo", git.gitUrl("bind"), "--name", "bd", "-d"]);
    assert.equal(bind.status, 1, bind.stderr);
    assert.match(bind.stderr, /allowHostMounts/);
  });

  it("uploads a local directory: localEnv, initializeCommand (with --yes), automations", async () => {
    made.push("loc");
    const dir = mkdtempSync(path.join(os.tmpdir(), "warren-upload-"));
    try {
      mkdirSync(path.join(dir, ".devcontainer"));
      mkdirSync(path.join(dir, ".warren"));
      writeFileSync(
        path.join(dir, ".devcontainer/devcontainer.json"),
        JSON.stringify({
          image: "warren/debian:bookworm",
          // biome-ignore lint/suspicious/noTemplateCurlyInString: devcontainer.json's own variable syntax
          containerEnv: { FROM_LOCAL: "${localEnv:WARREN_E2E_MARK}" },
          initializeCommand: "touch initialized-here",
        }),
      );
      writeFileSync(
        path.join(dir, ".warren/automations.yaml"),
        [
          "services:",
          "  ticker:",
          "    command: while true; do date > /tmp/ticker; sleep 1; done",
          "    ready: { command: test -s /tmp/ticker }",
          "tasks:",
          "  greet:",
          "    command: echo hello >> /tmp/greeted",
          "    triggeredBy: [postEnvironmentStart]",
          "",
        ].join("\n"),
      );
      writeFileSync(path.join(dir, "app.txt"), "uploaded\n");
      const up = h.cli(["up", "--repo", dir, "--name", "loc", "--yes", "--json"], {
        env: { ...h.env, WARREN_E2E_MARK: "from-my-shell", NOT_ASKED_FOR: "secret-ish" },
      });
      assert.equal(up.status, 0, up.stderr);
      assert.ok(existsSync(path.join(dir, "initialized-here")), "initializeCommand ran on this machine");
      const env = JSON.parse(up.stdout) as Environment;
      assert.ok(env.setup?.source.uploadId);
      assert.equal(
        JSON.stringify(env).includes("secret-ish"),
        false,
        "only the variables the config names are sent",
      );
      const r = h.cli(["exec", "loc", "--", "sh", "-c", 'cat app.txt; echo "$FROM_LOCAL"; cat /tmp/greeted']);
      assert.equal(r.stdout, "uploaded\nfrom-my-shell\nhello\n", r.stderr);
      const svc = h.cli(["service", "ls", "loc", "--json"]);
      assert.equal(svc.status, 0, svc.stderr);
      assert.match(svc.stdout, /ticker/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("builds a Dockerfile with a local Feature; a second environment reuses the build", async () => {
    made.push("bt1", "bt2");
    await git.createRepo("built", {
      ".devcontainer/devcontainer.json": JSON.stringify({
        build: { dockerfile: "Dockerfile", args: { GREETING: "hi" } },
        features: { "./features/marker": { message: "from-option" } },
        remoteUser: "dev",
      }),
      ".devcontainer/Dockerfile":
        'FROM warren/debian:bookworm\nARG GREETING\nRUN echo "$GREETING" > /built-by-dockerfile && useradd -m dev\n',
      ".devcontainer/features/marker/devcontainer-feature.json": JSON.stringify({
        id: "marker",
        version: "1.0.0",
        options: { message: { type: "string", default: "none" } },
        containerEnv: { MARKER_FEATURE: "installed" },
      }),
      ".devcontainer/features/marker/install.sh": '#!/bin/sh\necho "$MESSAGE" > /feature-marker\n',
    });
    const up = h.cli(["up", "--repo", git.gitUrl("built"), "--name", "bt1", "--json"]);
    assert.equal(up.status, 0, up.stderr);
    const env = JSON.parse(up.stdout) as Environment;
    assert.match(env.spec.image, /^warren-build\//);
    assert.equal(env.spec.user, "dev");
    const r = h.cli([
      "exec",
      "bt1",
      "--",
      "sh",
      "-c",
      'cat /built-by-dockerfile /feature-marker; echo "$MARKER_FEATURE $(id -un) $(stat -c %U .)"',
    ]);
    assert.equal(r.stdout, "hi\nfrom-option\ninstalled dev dev\n", r.stderr);
    const again = h.cli(["up", "--repo", git.gitUrl("built"), "--name", "bt2", "--json"]);
    assert.equal(again.status, 0, again.stderr);
    assert.equal((JSON.parse(again.stdout) as Environment).spec.image, env.spec.image);
    assert.match(h.cli(["logs", "bt2"]).stdout, /cached/);
  });

  it("a prebuild: create-time work done ahead, a matching up starts from its template", async () => {
    made.push("fromtpl");
    await git.createRepo("pre", {
      ".devcontainer/devcontainer.json": JSON.stringify({
        image: "warren/debian:bookworm",
        onCreateCommand: "echo onCreate >> /workspaces/pre/.markers",
        updateContentCommand: "echo updateContent >> /workspaces/pre/.markers",
        postCreateCommand: "echo postCreate >> /workspaces/pre/.markers",
      }),
    });
    const url = git.gitUrl("pre");
    const pb = h.cli(["prebuild", "--repo", url, "--json"]);
    assert.equal(pb.status, 0, pb.stderr);
    let ready = false;
    for (let i = 0; i < 300 && !ready; i++) {
      const ls = h.cli(["prebuild", "ls", "--json"]);
      ready = /"state":\s*"ready"/.test(ls.stdout);
      if (/"state":\s*"failed"/.test(ls.stdout)) assert.fail(ls.stdout);
      if (!ready) await sleep(200);
    }
    assert.ok(ready, h.cli(["prebuild", "ls"]).stdout);
    const up = h.cli(["up", "--repo", url, "--name", "fromtpl", "--json"]);
    assert.equal(up.status, 0, up.stderr);
    assert.match(h.cli(["logs", "fromtpl"]).stdout, /\[update\]/);
    const m = h
      .cli(["exec", "fromtpl", "--", "cat", "/workspaces/pre/.markers"])
      .stdout.split("\n")
      .filter(Boolean);
    // onCreate and updateContent ran once, in the prebuild; the same commit needs no update.
    assert.deepEqual(m, ["onCreate", "updateContent", "postCreate"]);
  });
});
