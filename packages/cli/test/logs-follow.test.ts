// `warren logs -f` ends when its environment is removed, with a last line saying so, instead of
// waiting forever for lines a removed environment will never write.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { after, before, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { type InprocDaemon, startInprocDaemon } from "@warren/testing/inproc-daemon";
import { ROOT } from "@warren/testing/server-harness";
import { MAIN } from "./fake-daemon.ts";

let d: InprocDaemon;
before(async () => {
  d = await startInprocDaemon();
});
after(() => d?.close());

it("logs -f exits 0 once the environment is removed", async () => {
  await d.h.envs.create(ROOT, { name: "dev" });
  const child = spawn(process.execPath, [MAIN, "logs", "-f", "dev"], {
    env: { ...process.env, WARREN_SOCKET: d.socket, WARREN_NO_AUTOSTART: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  child.stdout.on("data", (c) => {
    stdout += c;
  });
  const exited = new Promise<number | null>((r) => child.on("close", (code) => r(code)));
  try {
    const until = Date.now() + 15_000;
    while (!stdout.includes("created")) {
      assert.ok(Date.now() < until, `the follow never showed the log: ${stdout}`);
      await sleep(50);
    }
    await d.h.envs.delete(ROOT, "dev", true);
    const code = await Promise.race([
      exited,
      sleep(10_000, undefined, { ref: false }).then(() => "still following"),
    ]);
    assert.equal(code, 0, stdout);
    assert.match(stdout, /\[warren\] log stream closed: environment dev was removed\n$/);
  } finally {
    child.kill("SIGKILL");
  }
});

it("logs -f of a running environment keeps following", async () => {
  await d.h.envs.create(ROOT, { name: "stays" });
  const child = spawn(process.execPath, [MAIN, "logs", "-f", "stays"], {
    env: { ...process.env, WARREN_SOCKET: d.socket, WARREN_NO_AUTOSTART: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const exited = new Promise<string>((r) => child.on("close", () => r("exited")));
  try {
    // Other environments' changes (one made, one removed) do not end this follow.
    await d.h.envs.create(ROOT, { name: "other" });
    await d.h.envs.delete(ROOT, "other", true);
    assert.equal(await Promise.race([exited, sleep(2000).then(() => "following")]), "following");
  } finally {
    child.kill("SIGKILL");
  }
});
