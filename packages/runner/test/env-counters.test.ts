// Parsing the runner's raw counters for Prometheus: veth bytes from /proc/net/dev (from the
// environment's side) and the memory high-water mark from a cgroup directory.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { test } from "node:test";
import type { CgroupDriver } from "../src/cgroups/types.ts";
import { memoryPeak, vethBytes } from "../src/metrics/env-counters.ts";

const DEV = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:    1000      10    0    0    0     0          0         0     1000      10    0    0    0     0       0          0
wrabcdef012345:  5000  40 0 0 0 0 0 0  7000  50 0 0 0 0 0 0
wrabcdef0123456: 1 1 0 0 0 0 0 0 2 2 0 0 0 0 0 0
`;

test("veth bytes are read from the environment's side, and only for its own interface", () => {
  // The host end received 5000 (the environment sent them) and transmitted 7000.
  assert.deepEqual(vethBytes(DEV, "abcdef012345"), { networkReceiveBytes: 7000, networkTransmitBytes: 5000 });
  assert.deepEqual(vethBytes(DEV, "zzzzzz012345"), {});
  assert.deepEqual(vethBytes("wrabcdef012345: junk junk", "abcdef012345"), {});
});

test("memory peak: v1's max_usage_in_bytes, v2's memory.peak, undefined when absent", async () => {
  const dir = mkdtempSync(path.join(tmpdir(), "warren-peak-"));
  try {
    mkdirSync(path.join(dir, "mem"));
    writeFileSync(path.join(dir, "mem", "memory.max_usage_in_bytes"), "123456\n");
    const v1 = { mode: "v1", paths: () => ({ memory: path.join(dir, "mem") }) } as unknown as CgroupDriver;
    assert.equal(await memoryPeak(v1, "/x"), 123456);
    const v2 = { mode: "v2", paths: () => ({ unified: path.join(dir, "mem") }) } as unknown as CgroupDriver;
    assert.equal(await memoryPeak(v2, "/x"), undefined);
    writeFileSync(path.join(dir, "mem", "memory.peak"), "999\n");
    assert.equal(await memoryPeak(v2, "/x"), 999);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
