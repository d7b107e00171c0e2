import assert from "node:assert/strict";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { isWarrenError } from "@warren/protocol";
import {
  parseListFile,
  parseSourcesFile,
  readHostAptSources,
  resolveDebianSources,
  securitySibling,
} from "../src/storage/image-apt-sources.ts";

const DEB822 = `Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://mirror.example/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb deb-src
URIs: http://sec.example/debian-security/
Suites: bookworm-security
Components: main

Enabled: no
Types: deb
URIs: http://disabled.example/debian
Suites: bookworm
`;

test("deb822 stanzas are parsed, comments skipped, disabled ones dropped", () => {
  const entries = parseSourcesFile(DEB822);
  assert.equal(entries.length, 2);
  assert.deepEqual(entries[0], {
    types: ["deb"],
    uris: ["http://mirror.example/debian"],
    suites: ["bookworm", "bookworm-updates"],
    components: ["main"],
  });
  assert.deepEqual(entries[1]!.types, ["deb", "deb-src"]);
});

test("one-line entries with options and comments are parsed", () => {
  const entries = parseListFile(
    "# comment\ndeb [arch=amd64 signed-by=/k.gpg] https://packages.cloud.google.com/apt cloud-sdk-bookworm main\n" +
      "deb http://ftp.example/debian bookworm main contrib # trailing\n\n",
  );
  assert.equal(entries.length, 2);
  assert.deepEqual(entries[1], {
    types: ["deb"],
    uris: ["http://ftp.example/debian"],
    suites: ["bookworm"],
    components: ["main", "contrib"],
  });
});

test("the host's bookworm mirror and security archive are used, with all three suites", () => {
  const entries = [
    ...parseListFile("deb https://packages.cloud.google.com/apt cloud-sdk-bookworm main\n"),
    ...parseSourcesFile(DEB822),
  ];
  const s = resolveDebianSources(entries);
  assert.equal(s.mirror, "http://mirror.example/debian");
  assert.equal(s.security, "http://sec.example/debian-security");
  assert.deepEqual(s.lines, [
    "deb http://mirror.example/debian bookworm main",
    "deb http://mirror.example/debian bookworm-updates main",
    "deb http://sec.example/debian-security bookworm-security main",
  ]);
});

test("an override mirror brings its own debian-security sibling", () => {
  const s = resolveDebianSources(parseSourcesFile(DEB822), "http://local.example/mirror/debian/");
  assert.equal(s.mirror, "http://local.example/mirror/debian");
  assert.equal(s.security, "http://local.example/mirror/debian-security");
  assert.equal(securitySibling("http://deb.debian.org/debian"), "http://deb.debian.org/debian-security");
});

test("no security entry on the host falls back to the mirror's sibling", () => {
  const s = resolveDebianSources(parseListFile("deb http://m.example/debian bookworm main\n"));
  assert.equal(s.security, "http://m.example/debian-security");
});

test("no bookworm mirror is a user error that says how to fix it", () => {
  assert.throws(
    () => resolveDebianSources(parseListFile("deb http://m.example/debian trixie main\n")),
    (e: unknown) => isWarrenError(e, "INVALID_ARGUMENT") && /--mirror/.test(e.message),
  );
  assert.throws(
    () => resolveDebianSources([], "ftp://x/debian"),
    (e: unknown) => isWarrenError(e, "INVALID_ARGUMENT"),
  );
});

test("reads sources.list and sources.list.d, ignoring other file names", async (t) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "warren-apt-"));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  await fs.mkdir(path.join(dir, "sources.list.d"));
  await fs.writeFile(path.join(dir, "sources.list.d", "debian.sources"), DEB822);
  await fs.writeFile(
    path.join(dir, "sources.list.d", "x.list.disabled"),
    "deb http://bad.example/debian bookworm main\n",
  );
  await fs.writeFile(path.join(dir, "sources.list.d", "y.list"), "deb http://other.example/x stable main\n");
  const entries = await readHostAptSources(dir);
  assert.deepEqual(
    entries.map((e) => e.uris[0]),
    ["http://mirror.example/debian", "http://sec.example/debian-security/", "http://other.example/x"],
  );
});
