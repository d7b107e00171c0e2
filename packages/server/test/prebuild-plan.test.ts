// Prebuilds, the pure parts: the setup plan's new rows, which hooks a pass runs, what the update
// step decides, how a prebuild run ends, the template key, and which creates a prebuild matches.
import assert from "node:assert/strict";
import { test } from "node:test";
import { type SecretDelivery, TEMPLATE_KEY_RE } from "@warren/protocol";
import { hookOrder } from "../src/controllers/setup/hook-runs.ts";
import { planSetup, type SetupSnapshot } from "../src/controllers/setup/plan.ts";
import { prebuildOutcome } from "../src/controllers/setup/prebuild-finish.ts";
import { configDigest, templateKey } from "../src/controllers/setup/prebuild-key.ts";
import { fromPrebuiltRow, type RepoCreate } from "../src/controllers/setup/prebuild-match.ts";
import { secretsForEnv } from "../src/controllers/setup/prebuild-secrets.ts";
import { afterUpdate } from "../src/controllers/setup/prebuild-update.ts";
import type { PrebuildRow } from "../src/store/queries/prebuilds.ts";
import type { SetupState } from "../src/store/queries/setups.ts";

const env = (over: Partial<SetupSnapshot["env"]> = {}): SetupSnapshot["env"] => ({
  desired: "running",
  state: "running",
  image: "warren/debian:bookworm",
  startedAt: "2026-01-01T00:00:00.000Z",
  ...over,
});
type Setup = NonNullable<SetupSnapshot["setup"]>;
const planRows: [string, Setup, Partial<SetupSnapshot["env"]>, string[]][] = [
  ["started from a prebuild: update first", { phase: "update" }, {}, ["update"]],
  ["no update while it is stopped", { phase: "update" }, { desired: "stopped", state: "stopped" }, []],
  ["a prebuild's hooks run once", { phase: "hooks", prebuild: true }, {}, ["createHooks"]],
  [
    "a prebuild whose hooks ran waits to be saved, even on a new start",
    { phase: "ready", prebuild: true, created: true, startedFor: "x" },
    { startedAt: "y" },
    [],
  ],
];
for (const [name, setup, over, want] of planRows) {
  test(`plan: ${name}`, () => {
    assert.deepEqual(
      planSetup({ setup, env: env(over) }).map((a) => a.type),
      want,
    );
  });
}

const hookRows: [string, Parameters<typeof hookOrder>[0], boolean, string[]][] = [
  [
    "a prebuild: only what can run ahead",
    { prebuild: true },
    true,
    ["onCreateCommand", "updateContentCommand"],
  ],
  [
    "an ordinary create",
    {},
    true,
    ["onCreateCommand", "updateContentCommand", "postCreateCommand", "postStartCommand"],
  ],
  [
    "from a prebuild, content changed",
    { skipHooks: ["onCreateCommand"] },
    true,
    ["updateContentCommand", "postCreateCommand", "postStartCommand"],
  ],
  [
    "from a prebuild, same commit",
    { skipHooks: ["onCreateCommand", "updateContentCommand"] },
    true,
    ["postCreateCommand", "postStartCommand"],
  ],
  ["a later start", { skipHooks: ["onCreateCommand"] }, false, ["postStartCommand"]],
];
for (const [name, setup, create, want] of hookRows) {
  test(`hooks: ${name}`, () => assert.deepEqual(hookOrder(setup, create), want));
}

const base: SetupState = {
  source: { url: "https://git.example/o/r.git" },
  dir: "r",
  phase: "update",
  workspaceFolder: "/workspaces/r",
  hooks: [{ name: "onCreateCommand", state: "done", exitCode: 0 }],
  merged: { postCreateCommands: ["true"] },
  build: { repoRoot: "/workspaces/r" },
  fromPrebuild: { id: "pb_1", commit: "a".repeat(40), configDigest: "sha256:1", template: "ab".repeat(16) },
};

test("update: same commit and configuration skips onCreate and updateContent", () => {
  const next = afterUpdate(base, { commit: "a".repeat(40), configDigest: "sha256:1" });
  assert.equal(next.phase, "hooks");
  assert.deepEqual(next.skipHooks, ["onCreateCommand", "updateContentCommand"]);
});

test("update: a new commit reruns updateContent", () => {
  const next = afterUpdate(base, { commit: "b".repeat(40), configDigest: "sha256:1" });
  assert.equal(next.phase, "hooks");
  assert.deepEqual(next.skipHooks, ["onCreateCommand"]);
});

test("update: a changed configuration configures again and runs every create-time hook", () => {
  const next = afterUpdate(base, { commit: "b".repeat(40), configDigest: "sha256:2" });
  assert.equal(next.phase, "configure");
  assert.equal(next.skipHooks, undefined);
  assert.equal(next.fromPrebuild, undefined);
  assert.equal(next.build, undefined, "configure decides the build again");
  assert.deepEqual(next.hooks, []);
  assert.deepEqual(hookOrder(next, true).slice(0, 3), [
    "onCreateCommand",
    "updateContentCommand",
    "postCreateCommand",
  ]);
});

const running = { state: "running", desired: "running" } as const;
const outcomeRows: [string, { state: string; desired: string }, Partial<SetupState> | undefined, string][] = [
  ["still cloning", running, { phase: "clone" }, "wait"],
  ["hooks done and settled", running, { phase: "ready", created: true, settled: true }, "done"],
  ["hooks ran but not settled", running, { phase: "ready", created: true, settled: false }, "wait"],
  ["setup failed", running, { phase: "failed", message: "clone failed" }, "failed"],
  [
    "onCreate failed",
    running,
    {
      phase: "ready",
      created: true,
      settled: true,
      hooks: [{ name: "onCreateCommand", state: "failed", exitCode: 2 }],
    },
    "failed",
  ],
  ["the environment failed", { state: "failed", desired: "running" }, { phase: "clone" }, "failed"],
  ["no setup", running, undefined, "failed"],
];
for (const [name, row, s, want] of outcomeRows) {
  test(`prebuild outcome: ${name}`, () => {
    const setup = s ? ({ ...base, hooks: [], ...s } as SetupState) : undefined;
    assert.equal(prebuildOutcome(row as never, setup).kind, want);
  });
}

test("the onCreate failure names the hook and its status", () => {
  const o = prebuildOutcome(running, {
    ...base,
    phase: "ready",
    created: true,
    settled: true,
    hooks: [{ name: "onCreateCommand", state: "failed", exitCode: 2 }],
  });
  assert.deepEqual(o, { kind: "failed", message: "onCreateCommand failed: exit 2" });
});

test("template keys: hex, the same for the same tuple, different for any change", () => {
  const k = { orgId: "org_a", repo: "https://git.example/o/r.git", branch: "main", configDigest: "sha256:1" };
  const key = templateKey(k);
  assert.match(key, TEMPLATE_KEY_RE);
  assert.equal(key, templateKey({ ...k }));
  assert.equal(key, templateKey({ ...k, repo: "git.example/o/r" }), "the repository is normalized");
  const others = [
    templateKey({ ...k, orgId: "org_b" }),
    templateKey({ ...k, repo: "https://git.example/o/s.git" }),
    templateKey({ ...k, branch: "dev" }),
    templateKey({ ...k, branch: "" }),
    templateKey({ ...k, configDigest: "sha256:2" }),
    // Length-prefixed parts: moving text between fields is another key.
    templateKey({ ...k, orgId: "org_amain", branch: "" }),
  ];
  assert.equal(new Set([key, ...others]).size, others.length + 1);
});

test("config digests change with the text and the path, and 'none' has its own", () => {
  const a = configDigest([{ path: ".devcontainer/devcontainer.json", text: "{}" }]);
  assert.match(a, /^sha256:[0-9a-f]{64}$/);
  assert.notEqual(a, configDigest([{ path: ".devcontainer/devcontainer.json", text: "{ }" }]));
  assert.notEqual(a, configDigest([{ path: ".devcontainer.json", text: "{}" }]));
  assert.equal(configDigest([{ path: "x", text: undefined }]), "sha256:none");
});

const made = (over: Partial<SetupState> = {}): RepoCreate => ({
  req: { name: "dev" },
  setup: {
    source: { url: "https://git.example/o/r.git" },
    dir: "r",
    phase: "clone",
    workspaceFolder: "/workspaces/r",
    hooks: [],
    ...over,
  },
});
const row = (over: Partial<PrebuildRow> = {}): PrebuildRow =>
  ({
    id: "pb_1",
    template_key: "cd".repeat(16),
    image: "warren-build/abc",
    config_digest: "sha256:1",
    commit_sha: "c".repeat(40),
    devcontainer_path: null,
    setup: JSON.stringify({
      setup: { dir: "r", workspaceFolder: "/workspaces/r", hooks: [], merged: {}, remoteUser: "vscode" },
      user: "vscode",
      className: "medium",
      env: { A: "1" },
      volumes: [],
    }),
    ...over,
  }) as PrebuildRow;

test("a ready prebuild: the create starts from its template in phase update", () => {
  const m = fromPrebuiltRow(made(), row());
  assert.ok(m);
  assert.equal(m.setup.phase, "update");
  assert.equal(m.setup.fromPrebuild?.template, "cd".repeat(16));
  assert.equal(m.setup.fromPrebuild?.commit, "c".repeat(40));
  assert.equal(m.req.image, "warren-build/abc");
  assert.equal(m.req.user, "vscode");
  assert.equal(m.req.className, "medium");
  assert.deepEqual(m.runSpec?.env, { A: "1" });
  assert.equal(m.setup.source.url, "https://git.example/o/r.git");
});

const noMatch: [string, RepoCreate, PrebuildRow | undefined][] = [
  ["no prebuild", made(), undefined],
  ["never built (no template)", made(), row({ template_key: null })],
  [
    "another devcontainer.json",
    made({ source: { url: "https://git.example/o/r.git", devcontainerPath: "a/devcontainer.json" } }),
    row(),
  ],
  ["an explicit image", made({ image: "debian:12" }), row()],
  ["localEnv values", made({ localEnv: { TOKEN: "x" } }), row()],
];
for (const [name, m, r] of noMatch) {
  test(`no match: ${name}`, () => assert.equal(fromPrebuiltRow(m, r), undefined));
}

test("a prebuild's environment gets only the clone's secrets", () => {
  const all: SecretDelivery[] = [
    { name: "git-credentials", kind: "file", value: "https://u:t@h\n" },
    { name: "git-ssh-key", kind: "file", value: "k" },
    { name: "NPM_TOKEN", kind: "env", value: "n" },
    { name: "aws", kind: "file", value: "a" },
  ];
  const pre = { setup: JSON.stringify({ ...base, prebuild: true }) };
  assert.deepEqual(
    secretsForEnv(pre, all).map((s) => s.name),
    ["git-credentials", "git-ssh-key"],
  );
  assert.equal(secretsForEnv({ setup: JSON.stringify(base) }, all).length, 4);
  assert.equal(secretsForEnv({ setup: null }, all).length, 4);
});
