// Shared setup for storage host tests: a private root under /tmp with a random prefix, a random
// id range, and a cleanup that removes every mount and loop device under that root even when
// a test failed halfway.
import { randomBytes, randomInt } from "node:crypto";
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import path from "node:path";
import { defaultConfig, type RunnerConfig } from "../src/host/config.ts";
import { run } from "../src/host/run.ts";
import { listLoops } from "../src/storage/loop.ts";
import { mountsUnder } from "../src/storage/mountinfo.ts";
import type { IdMap } from "../src/storage/types.ts";

export interface StorageFixture {
  cfg: RunnerConfig;
  root: string;
  map: IdMap;
  /** A fresh 12-character environment id. */
  newId(): string;
  /** Loop devices backed by files under the fixture root. */
  loopsUnderRoot(): string[];
  cleanup(): Promise<void>;
}

export function storageFixture(): StorageFixture {
  const hex = randomBytes(4).toString("hex");
  const root = mkdtempSync(`/tmp/wt${hex}-`);
  // Environment ids (hostStart...) must traverse the path, as under /var/lib/warren.
  chmodSync(root, 0o755);
  const cfg = defaultConfig({
    root,
    runDir: path.join(root, "run"),
    prefix: `wt${hex}`,
    diskReserveBytes: 0,
  });
  // A random 64Ki block far above real users, below 2^31 (Node's spawn takes int32 uids).
  const map: IdMap = { hostStart: 1_000_000_000 + randomInt(0, 16_000) * 65_536, size: 65_536 };
  const loopsUnderRoot = () =>
    listLoops()
      .filter((l) => l.backingFile.startsWith(`${root}/`))
      .map((l) => l.device);
  return {
    cfg,
    root,
    map,
    newId: () => randomBytes(6).toString("hex"),
    loopsUnderRoot,
    async cleanup() {
      for (const mp of mountsUnder(root)) await run("umount", ["--lazy", mp], { allowFail: true });
      for (const dev of loopsUnderRoot()) await run("losetup", ["--detach", dev], { allowFail: true });
      rmSync(root, { recursive: true, force: true });
    },
  };
}
