// normalizeProject: one repository written many ways is one project; hostile values are refused
// with an error that names the field.
import assert from "node:assert/strict";
import { test } from "node:test";
import { isWarrenError, MAX_PROJECT_LENGTH, normalizeProject } from "../src/index.ts";

test("spellings of one repository normalize to one https://HOST/PATH", () => {
  const same: [string, string[]][] = [
    [
      "https://github.com/acme/api",
      [
        "https://github.com/acme/api",
        "https://github.com/acme/api.git",
        "https://github.com/acme/api/",
        "https://github.com/acme/api.git/",
        "https://github.com//acme/api",
        "HTTPS://GitHub.COM/acme/api",
        "http://github.com/acme/api",
        "https://github.com:443/acme/api",
        "git@github.com:acme/api.git",
        "github.com:acme/api",
        "ssh://git@github.com/acme/api.git",
        "ssh://git@github.com:22/acme/api",
        "git://github.com/acme/api",
        "github.com/acme/api/",
      ],
    ],
    ["https://gitlab.example:8443/group/sub/repo", ["https://gitlab.example:8443/group/sub/repo.git"]],
    ["https://git.sr.ht/~user/repo", ["git@git.sr.ht:~user/repo"]],
    ["https://[::1]/x", ["ssh://git@[::1]:2222/x.git"]],
    ["https://h.example/a%2Fb", ["https://h.example/a%2fb"]],
  ];
  for (const [want, spellings] of same) {
    for (const s of spellings) assert.equal(normalizeProject(s), want, s);
  }
});

test("the path keeps its case and a non-default http(s) port keeps the server apart", () => {
  assert.notEqual(
    normalizeProject("https://github.com/Acme/API"),
    normalizeProject("https://github.com/acme/api"),
  );
  assert.notEqual(normalizeProject("https://h.example:8443/a"), normalizeProject("https://h.example/a"));
  assert.equal(
    normalizeProject("https://github.com/acme/api.github.io"),
    "https://github.com/acme/api.github.io",
  );
});

test("a refused URL with credentials does not repeat them", () => {
  assert.throws(
    () => normalizeProject("https://ghp_s3cr3t:x@github.com/acme/api"),
    (e: unknown) => isWarrenError(e) && !e.message.includes("ghp_s3cr3t") && /credentials/.test(e.message),
  );
});

test("hostile or meaningless values are refused, naming the field", () => {
  for (const bad of [
    "",
    "api",
    "repos/api",
    "/srv/git/api",
    "./api",
    "file:///srv/git/api",
    "ftp://h.example/a",
    "https:github.com/acme/api",
    "https://token@github.com/acme/api",
    "https://user:pw@github.com/acme/api",
    "https://github.com",
    "https://github.com/",
    "https://github.com/acme/../etc",
    "https://github.com/acme/./api",
    "https://github.com/acme/api?ref=main",
    "https://github.com/acme/api#readme",
    "https://github.com/acme/a b",
    " https://github.com/acme/api",
    "https://github.com/acme/api\n",
    "https://github.com/acme/\u0000api",
    "https://gïthub.com/acme/api",
    "https://-bad-.example/a",
    "https://h.example:99999/a",
    "https://h.example:0/a",
    "https://h.example/a;rm -rf",
    "https://h.example/$(id)",
    `https://h.example/${"a".repeat(MAX_PROJECT_LENGTH)}`,
  ]) {
    assert.throws(
      () => normalizeProject(bad),
      (e: unknown) =>
        isWarrenError(e) &&
        e.code === "INVALID_ARGUMENT" &&
        e.details?.["field"] === "project" &&
        /invalid project/.test(e.message) &&
        /https:\/\/github\.com\/acme\/api/.test(e.message),
      JSON.stringify(bad),
    );
  }
});
