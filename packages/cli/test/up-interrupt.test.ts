// Ctrl-C during `warren up` once the create is sent: the daemon goes on creating, so the CLI says
// so and how to undo it, and exits 130 (never silently).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { after, before, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { DEFAULT_IMAGE } from "@warren/protocol";
import { type FakeDaemon, MAIN, startFakeDaemon } from "./fake-daemon.ts";

let d: FakeDaemon;
before(async () => {
  d = await startFakeDaemon();
});
after(() => d.close());

it("SIGINT after the create request was sent exits 130 saying the environment is still being created", async () => {
  d.images.push({
    ref: DEFAULT_IMAGE,
    digest: "sha256:00",
    layers: [],
    sizeBytes: 1,
    createdAt: new Date().toISOString(),
  });
  // The create is accepted and never answered, as while a slow start is waited for.
  d.override.set("POST /api/v1/environments", () => {});
  const child = spawn(process.execPath, [MAIN, "up", "--name", "dev", "--detach"], {
    env: { ...process.env, WARREN_SOCKET: d.socket, WARREN_NO_AUTOSTART: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (c) => {
    stderr += c;
  });
  const exited = new Promise<number | null>((r) => child.on("close", (code) => r(code)));
  try {
    const until = Date.now() + 15_000;
    while (!d.requests.some((r) => r.method === "POST" && r.url.startsWith("/api/v1/environments"))) {
      assert.ok(Date.now() < until, `the create was never sent; stderr: ${stderr}`);
      await sleep(50);
    }
    child.kill("SIGINT");
    assert.equal(await exited, 130);
    assert.match(
      stderr,
      /interrupted: environment dev is still being created; `warren rm -f dev` removes it/,
    );
  } finally {
    child.kill("SIGKILL");
  }
});
