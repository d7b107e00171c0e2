// The files a runner delivers for an environment's secrets: /run/secrets/NAME as a file there,
// any other path as a file there plus a symlink at the path; a path the server should have
// refused is refused again here, and so is a link the helper could misread.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { SecretDelivery } from "@warren/protocol";
import { secretFiles, secretStoreName } from "../src/engine/secrets.ts";
import { checkDeliveredFiles } from "../src/runtime/deliver-files.ts";

test("a path outside /run/secrets is a tmpfs file plus a symlink; the rest are plain files", () => {
  const secrets: SecretDelivery[] = [
    { name: "tls-key", kind: "file", value: "k" },
    { name: "cfg", kind: "file", path: "/run/secrets/app.conf", value: "c" },
    { name: "app", kind: "file", path: "/etc/app/app.conf", value: "a" },
    { name: "TOKEN", kind: "env", value: "t" },
  ];
  assert.deepEqual(secretFiles(secrets), [
    { name: "tls-key", data: "k" },
    { name: "app.conf", data: "c" },
    { name: "~etc~app~app.conf", data: "a", link: "/etc/app/app.conf" },
    { name: ".env", data: "TOKEN='t'\n" },
  ]);
  // One path, one name; two paths that differ only in where the slashes are, two names.
  assert.notEqual(secretStoreName("/etc/a-b/c"), secretStoreName("/etc/a/b-c"));
});

test("paths the server refuses are refused by the runner too", () => {
  for (const p of ["/proc/self/x", "/workspaces/dev/.env", "/run/secrets/.env", "/etc/../dev/x", "rel"]) {
    assert.throws(() => secretFiles([{ name: "x", kind: "file", path: p, value: "v" }]), /secret path/, p);
  }
});

test("the delivery checks refuse links the helper must never be asked to make", () => {
  const ok = checkDeliveredFiles("/run/secrets", [{ name: "~etc~x", data: "v", link: "/etc/x" }]);
  assert.equal(ok[0]?.toString(), "v");
  for (const link of ["etc/x", "/etc/../x", "/", "/etc/x/", "/run/secrets/x", "/proc/x", "/dev/shm/x"]) {
    assert.throws(
      () => checkDeliveredFiles("/run/secrets", [{ name: "n", data: "v", link }]),
      /cannot link/,
      link,
    );
  }
  assert.throws(
    () => checkDeliveredFiles("/run/secrets", [{ name: "a=b", data: "v", link: "/etc/x" }]),
    /cannot link/,
  );
});
