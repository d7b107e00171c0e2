// The clone's plumbing, without an environment: what runs (one constant script, the values only
// as its arguments, the pinned host keys on stdin), the credential conventions in it (secrets as
// files read through a get-only helper, host keys always checked), the checks on every value, the
// failure messages, and the log lines (progress rate-limited, credentials and escapes removed).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { WarrenError } from "@warren/protocol";
import { cleanLine, LineSplitter, redactUrlCredentials } from "../src/controllers/setup/git-exec.ts";
import {
  CLONE_SCRIPT,
  checkBranch,
  checkCloneDir,
  cloneInvocation,
  explainCloneFailure,
  prepareInvocation,
  repoDirName,
} from "../src/controllers/setup/git-plumbing.ts";

const code = (fn: () => unknown): string => {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof WarrenError, String(e));
    return `${e.code}: ${e.message}`;
  }
  return "ok";
};

describe("clone invocation", () => {
  it("passes every value as an argument of one constant script, host keys on stdin", () => {
    const inv = cloneInvocation({
      url: "git@github.com:acme/api.git",
      branch: "release/1.2",
      dest: "/workspaces/api",
      knownHosts: [
        "github.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl",
      ],
    });
    assert.deepEqual(inv.cmd, [
      "sh",
      "-c",
      CLONE_SCRIPT,
      "warren-clone",
      "git@github.com:acme/api.git",
      "release/1.2",
      "/workspaces/api",
    ]);
    assert.match(inv.stdin, /^github\.com ssh-ed25519 AAAA\S+\n$/);
    assert.equal(cloneInvocation({ url: "https://h.example/o/r", dest: "/workspaces/r" }).stdin, "");
  });

  it("keeps credentials in files: a get-only helper, the key by path, host keys always checked", () => {
    assert.match(CLONE_SCRIPT, /StrictHostKeyChecking=yes/);
    assert.doesNotMatch(CLONE_SCRIPT, /StrictHostKeyChecking=(no|accept-new|off)/i);
    assert.match(CLONE_SCRIPT, /UserKnownHostsFile=\$tmp\/known_hosts/);
    assert.match(CLONE_SCRIPT, /mktemp -d \/dev\/shm\//, "known hosts on a tmpfs");
    assert.match(CLONE_SCRIPT, /-i \/run\/secrets\/git-ssh-key/);
    assert.match(
      CLONE_SCRIPT,
      /test "\$1" = get && exec git credential-store --file=\/run\/secrets\/git-credentials get/,
    );
    assert.match(
      CLONE_SCRIPT,
      /set -- -c credential\.helper=\n/,
      "helpers from the image's config are reset first",
    );
    assert.match(CLONE_SCRIPT, /GIT_TERMINAL_PROMPT=0/);
    assert.match(CLONE_SCRIPT, /GIT_ALLOW_PROTOCOL=https:http:ssh:git/);
    assert.match(CLONE_SCRIPT, /git "\$@" -- "\$url" "\$dest"/, "the URL can never be read as an option");
  });

  it("refuses what git could misread, before anything runs", () => {
    const bad: [Parameters<typeof cloneInvocation>[0], RegExp][] = [
      [{ url: "-uhttps://x", dest: "/workspaces/x" }, /a git URL is/],
      [{ url: "file:///etc", dest: "/workspaces/x" }, /scheme "file"/],
      [{ url: "ext::sh -c id", dest: "/workspaces/x" }, /git URL/],
      [{ url: "../other", dest: "/workspaces/x" }, /not a remote git URL/],
      [{ url: "github.com/acme/api", dest: "/workspaces/x" }, /not a remote git URL/],
      [{ url: "https://u:tok@h.example/r", dest: "/workspaces/x" }, /git-credentials/],
      [{ url: "https://h.example/r", branch: "--upload-pack=x", dest: "/workspaces/x" }, /invalid branch/],
      [{ url: "https://h.example/r", dest: "/workspaces/../etc" }, /invalid clone target/],
      [{ url: "https://h.example/r", dest: "/w/$(id)" }, /invalid clone target/],
      [
        {
          url: "ssh://git@h.example/r",
          dest: "/workspaces/r",
          knownHosts: ["h.example ssh-ed25519\nAAAA x"],
        },
        /invalid known host line/,
      ],
      [
        { url: "ssh://git@h.example/r", dest: "/workspaces/r", knownHosts: ["just-a-host"] },
        /invalid known host line/,
      ],
    ];
    for (const [src, msg] of bad) {
      const c = code(() => cloneInvocation(src));
      assert.match(c, /^INVALID_ARGUMENT: /, JSON.stringify(src));
      assert.match(c, msg, JSON.stringify(src));
      assert.doesNotMatch(c, /tok@/, "a token is never repeated back");
    }
    for (const url of [
      "https://github.com/acme/api.git",
      "ssh://git@h.example:2222/o/r.git",
      "git@github.com:acme/api.git",
      "git://10.0.0.2/pub.git",
      "http://h.example:8080/r.git",
    ]) {
      assert.equal(
        code(() => cloneInvocation({ url, dest: "/workspaces/r" })),
        "ok",
        url,
      );
    }
  });

  it("checks branches, folder names and the ids the prepare step is given", () => {
    for (const b of ["main", "release/1.2", "feature/x-y_z", "v1.0.0"]) assert.equal(checkBranch(b), b);
    for (const b of [
      "-x",
      "a..b",
      "a b",
      "x.lock",
      "/x",
      "x/",
      "a~1",
      "a^",
      "a:b",
      "@",
      "a@{1}",
      ".hidden",
      "a/.b",
      "x\\y",
    ]) {
      assert.match(
        code(() => checkBranch(b)),
        /^INVALID_ARGUMENT: invalid branch/,
        b,
      );
    }
    for (const d of ["api", "my.repo", "a_b-c"]) assert.equal(checkCloneDir(d), d);
    for (const d of ["", ".", "..", ".git", "-x", "a/b", "x.warren-partial", "a b", "x".repeat(101)]) {
      assert.match(
        code(() => checkCloneDir(d)),
        /^INVALID_ARGUMENT: invalid workspace folder/,
        d,
      );
    }
    assert.deepEqual(prepareInvocation("/workspaces/api", "1000\n1000\n").slice(3), [
      "warren-prepare",
      "1000:1000",
      "/workspaces/api",
    ]);
    for (const ids of ["", "root\n", "1000\n", "99999\n1\n", "1\n1\n; rm -rf /"]) {
      assert.match(
        code(() => prepareInvocation("/workspaces/api", ids)),
        /^ENV_FAILED/,
        ids,
      );
    }
  });

  it("names the folder after the repository", () => {
    const table: [string, string][] = [
      ["https://github.com/acme/api.git", "api"],
      ["git@github.com:acme/web-app.git", "web-app"],
      ["ssh://git@h.example:22/o/r", "r"],
      ["https://h.example/o/.hidden", "hidden"],
      ["https://h.example/o/na%20me", "na-20me"],
    ];
    for (const [url, dir] of table) assert.equal(repoDirName(url), dir, url);
  });
});

describe("clone failures", () => {
  const cases: [string[], RegExp][] = [
    [
      ["fatal: could not read Username for 'https://h.example': terminal prompts disabled"],
      /h\.example asked for credentials: set a file secret git-credentials/,
    ],
    [
      ["Host key verification failed.", "fatal: Could not read from remote repository."],
      /SSH host key is not known: pin it .*git-known-hosts/,
    ],
    [["git@h.example: Permission denied (publickey)."], /refused the SSH key: .*git-ssh-key/],
    [
      [
        "warning: Could not find remote branch nope to clone.",
        "fatal: Remote branch nope not found in upstream origin",
      ],
      /branch does not exist there/,
    ],
    [
      ["fatal: unable to access 'https://h.example/r/': Could not resolve host: h.example"],
      /did not resolve .*egress/,
    ],
    [["fatal: repository 'https://h.example/r/' not found"], /check the URL/],
  ];
  for (const [tail, msg] of cases) {
    it(`explains: ${tail.at(-1)}`, () => {
      const e = explainCloneFailure("https://h.example/r", 128, ["warren: noise", ...tail]);
      assert.equal(e.code, "CLONE_FAILED");
      assert.match(e.message, msg);
      assert.match(e.message, /^git clone https:\/\/h\.example\/r failed \(/);
      assert.doesNotMatch(e.message, /warren: noise/);
    });
  }
});

describe("clone log lines", () => {
  it("passes finished lines at once and '\\r' progress at most once a second", () => {
    const out: string[] = [];
    let now = 0;
    const s = new LineSplitter(
      (l) => out.push(l),
      () => now,
    );
    s.push("Cloning into 'x'...\nReceiving objects:   1% (1/100)\r");
    now = 500;
    s.push("Receiving objects:  50% (50/100)\r");
    now = 1200;
    s.push("Receiving objects:  90% (90/100)\rReceiving objects: 100% (100/100), done.\n");
    s.push("tail without newline");
    s.end();
    assert.deepEqual(out, [
      "Cloning into 'x'...",
      "Receiving objects:   1% (1/100)",
      "Receiving objects:  90% (90/100)",
      "Receiving objects: 100% (100/100), done.",
      "tail without newline",
    ]);
  });

  it("removes credentials, escapes and control characters, and bounds each line", () => {
    assert.equal(
      redactUrlCredentials("fatal: https://ada:ghp_x@h.example/r"),
      "fatal: https://ada:***@h.example/r",
    );
    assert.equal(cleanLine("\x1b[31mred\x1b[0m\x07 ok"), "red ok");
    assert.equal(cleanLine("x".repeat(600)).length, 503);
    const out: string[] = [];
    const s = new LineSplitter((l) => out.push(l));
    s.push("y".repeat(5000));
    assert.equal(out.length, 1, "a line without an end is cut, not held forever");
  });
});
