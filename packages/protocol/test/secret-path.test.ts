// Where a file secret may go and what it may be called: any absolute path but the kernel's
// interfaces, the workspace and Warren's own mounts; file names may hold '.' and '-', variable
// names stay shell names.
import assert from "node:assert/strict";
import { test } from "node:test";
import { secretNameProblem, secretPathProblem } from "../src/secrets.ts";

test("file secrets may go to any absolute path outside the kernel's and Warren's own", () => {
  for (const ok of [
    "/etc/app/app.conf",
    "/run/secrets/tls.key",
    "/run/secrets/id_rsa-deploy",
    "/home/dev/.npmrc",
    "/root/.ssh/id_ed25519",
    "/opt/app+1/user@host.json",
    "/run/app/secret",
    "/devices/x", // only /dev itself is the kernel's
  ]) {
    assert.equal(secretPathProblem(ok), undefined, ok);
  }
});

test("paths of the kernel, the workspace and Warren's mounts are refused, saying why", () => {
  const cases: [string, RegExp][] = [
    ["/proc/self/environ", /\/proc belongs to the kernel/],
    ["/sys/x", /\/sys belongs to the kernel/],
    ["/dev/shm/token", /\/dev belongs to the kernel/],
    ["/dev", /\/dev belongs to the kernel/],
    ["/workspaces/dev/.env", /\/workspaces belongs to Warren \(a disk: secrets live in memory only\)/],
    ["/.warren/init", /\/\.warren belongs to Warren/],
    ["/etc/resolv.conf", /\/etc\/resolv\.conf belongs to Warren/],
    ["/etc/hosts", /belongs to Warren/],
    ["/etc/hostname", /belongs to Warren/],
    ["/run/secrets", /the secrets directory itself/],
    ["/run/secrets/.env", /holds the variable secrets/],
    ["/run/secrets/sub/file", /\/run\/secrets\/FILE/],
    ["etc/app.conf", /must be absolute/],
    ["/etc/../proc/x", /no '\.\.'/],
    ["/etc//app.conf", /no '\.\.', '\/\/'/],
    ["/etc/app/", /trailing/],
    ["/", /\/DIR\/\.\.\.\/FILE/],
    ["/etc/app conf", /each part letters/],
    ["/etc/~x", /each part letters/],
    [`/${"a".repeat(255)}`, /at most 255/],
  ];
  for (const [p, why] of cases) assert.match(secretPathProblem(p) ?? "(accepted)", why, p);
  // Every refusal says how to fix it, or what the rule is.
  assert.match(secretPathProblem("/proc/x")!, /choose an absolute path such as \/etc\/app\/app\.conf/);
});

test("file secrets' names take dots and dashes; variable secrets' stay shell names", () => {
  for (const n of ["app.conf", "tls-key", "id_rsa", "_x", "9lives", "a".repeat(128)]) {
    assert.equal(secretNameProblem(n, "file"), undefined, n);
  }
  for (const n of [".hidden", "-rf", "a/b", "", "a b", "a".repeat(129), "a~b"]) {
    assert.match(secretNameProblem(n, "file") ?? "(accepted)", /a file secret's name/, n);
  }
  for (const n of ["API_TOKEN", "_x", "a1"]) assert.equal(secretNameProblem(n, "env"), undefined, n);
  for (const n of ["tls-key", "app.conf", "1X"]) {
    assert.match(secretNameProblem(n, "env") ?? "(accepted)", /shell variable name.*--file.*'\.' and '-'/, n);
  }
});
