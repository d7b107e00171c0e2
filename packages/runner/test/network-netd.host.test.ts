// warren-netd runs the network commands for the runner: the same results and error messages as a
// plain spawn, input of any size, side-by-side requests, nothing else runnable, and no process
// spawned from the runner per request once the helpers run.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { runNet } from "../src/network/netd.ts";

const NATIVE = path.resolve(import.meta.dirname, "../native/bin");
const HELPER = path.join(NATIVE, "warren-net");
const NETD = path.join(NATIVE, "warren-netd");

/** Pids of warren-netd processes whose parent is this test process. */
function ourHelpers(): number[] {
  const out: number[] = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === process.pid && stat.includes("(warren-netd)")) out.push(Number(d));
    } catch {}
  }
  return out;
}

test("nft runs through the helper with its input; errors read as from a plain spawn", async () => {
  // A script larger than a pipe buffer, so input and output are pumped concurrently.
  const big = `${"# padding comment line to make the script larger than a pipe buffer\n".repeat(3000)}list tables\n`;
  const ok = await runNet("nft", HELPER, ["-f", "-"], big);
  assert.equal(ok.code, 0);
  await assert.rejects(runNet("nft", HELPER, ["-f", "-"], "this is not nft syntax\n"), (e: Error) => {
    assert.match(e.message, /^nft -f -: exit 1: .*syntax error/);
    return true;
  });
  await assert.rejects(runNet("net", HELPER, ["add", "x"]), (e: Error) => {
    assert.equal(e.message.startsWith(`${HELPER} add x: exit 2: usage: warren-net add`), true, e.message);
    return true;
  });
});

test("side-by-side requests each get their own answer, from a bounded set of helpers", async () => {
  const results = await Promise.all(
    Array.from({ length: 12 }, (_, i) =>
      runNet("net", HELPER, ["add", "x", String(i)]).then(
        () => "resolved",
        (e: Error) => e.message,
      ),
    ),
  );
  for (const [i, r] of results.entries()) assert.match(r, new RegExp(`add x ${i}: exit 2`));
  const pids = ourHelpers();
  assert.ok(pids.length >= 1 && pids.length <= 4, `helpers: ${pids.length}`);
  // Warm helpers answer without a spawn from this process: the helper set stays the same.
  await runNet("nft", HELPER, ["-f", "-"], "list tables\n");
  assert.deepEqual(ourHelpers().sort(), pids.sort());
});

test("the helper refuses anything but the two network commands, and ends on EOF", async () => {
  const child = spawn(NETD, [], { stdio: ["pipe", "pipe", "inherit"] });
  const args = Buffer.from("sh\0-c\0id\0");
  const hdr = Buffer.alloc(8);
  hdr.writeUInt32LE(args.length, 0);
  const reply = new Promise<Buffer>((resolve) => {
    const bufs: Buffer[] = [];
    child.stdout.on("data", (d: Buffer) => bufs.push(d));
    child.stdout.on("end", () => resolve(Buffer.concat(bufs)));
  });
  child.stdin.write(Buffer.concat([hdr, args]));
  child.stdin.end();
  const r = await reply;
  const exit = await new Promise<number | null>((res) => child.on("close", res));
  assert.equal(r.readInt32LE(0), 2);
  assert.equal(r.readUInt32LE(4), 0, "nothing ran, so no output");
  assert.match(r.subarray(12).toString(), /only "net" and "nft"/);
  assert.equal(exit, 0);
});
