// The unix socket listener: the socket is 0600; its directory is made 0700 only when Warren
// created it, and a directory that already existed keeps the mode its owner gave it.
import assert from "node:assert/strict";
import { chmod, mkdir, mkdtemp, rm, stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import Fastify from "fastify";
import { listenUnix } from "../src/http/listen.ts";

async function listenIn(t: { after: (fn: () => Promise<void>) => void }, socketPath: string) {
  const app = Fastify({ logger: false });
  app.get("/ping", async () => "pong");
  t.after(() => app.close());
  await listenUnix(app, socketPath);
  return app;
}

async function tempDir(t: { after: (fn: () => Promise<void>) => void }) {
  const dir = await mkdtemp(path.join(os.tmpdir(), "warren-listen-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const modeOf = async (p: string) => (await stat(p)).mode & 0o7777;

test("a socket directory Warren did not create keeps its mode", async (t) => {
  const shared = path.join(await tempDir(t), "shared");
  // Someone else's directory: readable and searchable by everyone, setgid as /run-like dirs can be.
  await mkdir(shared);
  await chmod(shared, 0o2755);
  const sock = path.join(shared, "warren.sock");
  await listenIn(t, sock);
  assert.equal(await modeOf(shared), 0o2755, "the existing directory was not tightened");
  assert.equal(await modeOf(sock), 0o600);
});

test("a socket directory Warren creates is 0700; on a restart it is left as it is", async (t) => {
  const own = path.join(await tempDir(t), "run", "warren");
  await listenIn(t, path.join(own, "warren.sock"));
  assert.equal(await modeOf(own), 0o700);
  assert.equal(await modeOf(path.join(own, "warren.sock")), 0o600);

  // A restart on the same path finds the directory already there and leaves it as it is.
  await chmod(own, 0o750); // an operator's choice after the first start
  const sock2 = path.join(own, "second.sock");
  await listenIn(t, sock2);
  assert.equal(await modeOf(own), 0o750);
  assert.equal(await modeOf(sock2), 0o600);
});
