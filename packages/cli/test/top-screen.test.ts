// `warren top`'s full-screen mode in a real pseudo-terminal (node-pty) against the fake daemon:
// the alternate screen with the cursor hidden, frames refreshed from new samples, sort keys,
// redraw on resize, and the terminal given back on `q`, SIGINT and SIGTERM.
import assert from "node:assert/strict";
import type { ServerResponse } from "node:http";
import { after, before, describe, it } from "node:test";
import type { EnvStats } from "@warren/protocol";
import { spawn as ptySpawn } from "node-pty";
import { type FakeDaemon, MAIN, makeEnv, startFakeDaemon } from "./fake-daemon.ts";
import { envStats, GiB, topRunner } from "./top-fixtures.ts";

const ENTER_ALT = "\x1b[?1049h";
const LEAVE_ALT = "\x1b[?1049l";
const HIDE_CURSOR = "\x1b[?25l";
const SHOW_CURSOR = "\x1b[?25h";

const runner = topRunner("v2");
// alpha uses more CPU, beta more memory: sorting by cpu and by mem gives opposite orders.
let samples = 0;
const stat = (id: string, cpuCores: number, memory: number): EnvStats =>
  envStats(id, {
    cpuCores,
    memoryWorkingSetBytes: memory,
    // Counters that grow with every sample, so only a refreshed frame can show a receive rate.
    networkReceiveBytes: samples * 1_000_000,
    networkTransmitBytes: 0,
  });

let d: FakeDaemon;
before(async () => {
  d = await startFakeDaemon();
  d.envs.set("alpha", makeEnv("alpha", { id: "alpha" }));
  d.envs.set("beta", makeEnv("beta", { id: "beta" }));
  const json = (value: () => unknown) => (_b: string, res: ServerResponse) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify(value()));
  };
  d.override.set(
    "GET /api/v1/runner",
    json(() => runner),
  );
  d.override.set(
    "GET /api/v1/stats",
    json(() => {
      samples++;
      return { items: [stat("alpha", 1.5, GiB / 4), stat("beta", 0.25, GiB)] };
    }),
  );
});
after(() => d.close());

/** `warren top` on a terminal of node-pty's; `frames()` are the complete screens drawn so far. */
function topInPty(cols: number, rows: number) {
  const p = ptySpawn(process.execPath, [MAIN, "top"], {
    cols,
    rows,
    env: { ...process.env, WARREN_SOCKET: d.socket, WARREN_NO_AUTOSTART: "1", TERM: "xterm-256color" },
  });
  let out = "";
  const waiters: { ok: () => boolean; resolve: () => void }[] = [];
  p.onData((s) => {
    out += s;
    for (const w of waiters.splice(0)) {
      if (w.ok()) w.resolve();
      else waiters.push(w);
    }
  });
  let ended = false;
  const exited = new Promise<{ exitCode: number; signal?: number }>((r) =>
    p.onExit((e) => {
      ended = true;
      r(e);
    }),
  );
  // For `finally`: a test that failed half-way leaves no CLI behind.
  const end = () => {
    if (!ended) p.kill("SIGKILL");
  };
  // A frame is `ESC[H`, the lines (each ending ESC[K), then ESC[J; the pty turns \n into \r\n.
  const frames = () =>
    out
      .split("\x1b[H")
      .slice(1)
      .filter((f) => f.includes("\x1b[J"))
      .map((f) =>
        f
          .slice(0, f.indexOf("\x1b[J"))
          .split("\x1b[K\r\n")
          .map((l) => l.replace("\x1b[K", "")),
      );
  const waitFor = (what: string, ok: () => boolean, ms = 6000) =>
    new Promise<void>((resolve, reject) => {
      if (ok()) return resolve();
      const t = setTimeout(
        () => reject(new Error(`timed out waiting for ${what}; output so far:\n${JSON.stringify(out)}`)),
        ms,
      );
      waiters.push({
        ok,
        resolve: () => {
          clearTimeout(t);
          resolve();
        },
      });
    });
  return { p, frames, waitFor, exited, end, output: () => out };
}

const title = (frame: string[]) => frame[0] ?? "";
const rowOf = (frame: string[], name: string) => frame.findIndex((l) => l.startsWith(`${name} `));
const rxColumn = (frame: string[], name: string) => frame[rowOf(frame, name)]!.trim().split(/ +/).at(-2);

/** The terminal is given back: alternate screen left and cursor shown, after the last frame. */
function assertRestored(output: string) {
  const lastFrame = output.lastIndexOf("\x1b[J");
  assert.ok(
    output.lastIndexOf(LEAVE_ALT) > lastFrame,
    `leaves the alternate screen: ${JSON.stringify(output)}`,
  );
  assert.ok(output.lastIndexOf(SHOW_CURSOR) > lastFrame, `shows the cursor again: ${JSON.stringify(output)}`);
}

describe("warren top on a terminal", () => {
  it("draws, refreshes, sorts on a key, follows a resize and restores the terminal on q", async () => {
    const t = topInPty(160, 30);
    try {
      await t.waitFor("the first frame", () => t.frames().some((f) => rowOf(f, "beta") >= 0));
      const out = t.output();
      assert.ok(out.indexOf(ENTER_ALT) >= 0 && out.indexOf(ENTER_ALT) < out.indexOf("\x1b[H"));
      assert.ok(out.indexOf(HIDE_CURSOR) >= 0 && out.indexOf(HIDE_CURSOR) < out.indexOf("\x1b[H"));
      const first = t.frames()[0]!;
      assert.match(title(first), /sorted by cpu/);
      assert.ok(rowOf(first, "alpha") < rowOf(first, "beta"), first.join("\n"));
      assert.equal(rxColumn(first, "alpha"), "-", "one sample has no network rate");

      // The refresh: a new sample, so a new time in the title and a receive rate from two samples.
      await t.waitFor("a refreshed frame", () => t.frames().some((f) => title(f) !== title(first)));
      const second = t.frames().find((f) => title(f) !== title(first))!;
      assert.notEqual(rxColumn(second, "alpha"), "-", second.join("\n"));

      t.p.write("m");
      await t.waitFor("the mem sort", () => /sorted by mem/.test(title(t.frames().at(-1)!)));
      const byMem = t.frames().at(-1)!;
      assert.ok(rowOf(byMem, "beta") < rowOf(byMem, "alpha"), byMem.join("\n"));

      // Wider than 50 before the resize; after it, a frame cut to 50 columns, drawn at once from
      // the same sample (same time in the title as the frame before it), not at the next refresh.
      assert.ok(byMem.some((l) => l.length > 50));
      const before = t.frames().length;
      t.p.resize(50, 30);
      const narrow = () => t.frames().findIndex((f, i) => i >= before && f.every((l) => l.length <= 50));
      await t.waitFor("a frame at the new width", () => narrow() >= 0);
      const i = narrow();
      const redrawn = t.frames()[i]!;
      assert.equal(redrawn[0]!.length, 50, redrawn.join("\n"));
      assert.equal(title(redrawn), title(t.frames()[i - 1]!).slice(0, 50), "redrawn on the resize itself");

      t.p.write("q");
      const { exitCode } = await t.exited;
      assert.equal(exitCode, 0);
      assertRestored(t.output());
    } finally {
      t.end();
    }
  });

  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    it(`exits 0 and restores the terminal on ${signal}`, async () => {
      const t = topInPty(120, 20);
      try {
        await t.waitFor("the first frame", () => t.frames().length > 0);
        t.p.kill(signal);
        const { exitCode, signal: killedBy } = await t.exited;
        assert.equal(exitCode, 0);
        assert.ok(!killedBy, `ended by signal ${killedBy}`);
        assertRestored(t.output());
      } finally {
        t.end();
      }
    });
  }
});
