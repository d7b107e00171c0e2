// setupHost/hostPreflight against temporary subid files and directories (never /etc).
import assert from "node:assert/strict";
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { defaultConfig } from "../src/host/config.ts";
import { hostPreflight, setupHost } from "../src/host/setup-host.ts";

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "wt-setup-"));
});
after(() => rm(dir, { recursive: true, force: true }));

test("setupHost reserves ids, makes a 0711 state root and a 0700 run dir, and a second run only checks", async () => {
  const subidFiles = { subuid: path.join(dir, "subuid"), subgid: path.join(dir, "subgid") };
  await writeFile(subidFiles.subuid, "alice:100000:65536\n");
  await writeFile(subidFiles.subgid, "alice:100000:65536\n");
  const config = defaultConfig({ root: path.join(dir, "lib/warren"), runDir: path.join(dir, "run/warren") });
  await mkdir(config.runDir, { recursive: true, mode: 0o755 });
  const opts = { config, subidFiles, binaries: { sh: "dash" } };

  const first: string[] = [];
  assert.deepEqual(await setupHost(opts, (l) => first.push(l)), []);
  assert.match(first.join("\n"), /reserved: warren:1073741824:268435456 \(4096 environments\)/);
  assert.match(first.join("\n"), new RegExp(`created: ${config.root} \\(0711\\)`));
  assert.match(first.join("\n"), new RegExp(`fixed: ${config.runDir} mode 0755 -> 0700`));
  assert.match(first.join("\n"), /ok: sh at \//);
  assert.equal((await stat(config.root)).mode & 0o777, 0o711);
  assert.equal((await stat(config.runDir)).mode & 0o777, 0o700);
  assert.match(
    await readFile(subidFiles.subgid, "utf8"),
    /^alice:100000:65536\nwarren:1073741824:268435456\n$/,
  );

  const second: string[] = [];
  assert.deepEqual(await setupHost(opts, (l) => second.push(l)), []);
  assert.match(second.join("\n"), /ok: warren:1073741824:268435456/);
  assert.doesNotMatch(second.join("\n"), /reserved|created|fixed/);
  assert.deepEqual(await hostPreflight(opts), []);
});

test("hostPreflight reports a missing binary and an overlapping range without changing anything", async () => {
  const subidFiles = { subuid: path.join(dir, "subuid2"), subgid: path.join(dir, "subgid2") };
  const text = "bob:1073741824:65536\nwarren:1073741824:65536\n";
  await writeFile(subidFiles.subuid, text);
  await writeFile(subidFiles.subgid, text);
  await chmod(subidFiles.subuid, 0o600);
  const problems = await hostPreflight({ subidFiles, binaries: { "wt-no-such-binary": "wt-pkg" } });
  assert.equal(problems.length, 2, problems.join("\n"));
  assert.match(problems[0]!, /overlaps the entry "bob:1073741824:65536"/);
  assert.match(problems[1]!, /missing: wt-no-such-binary .*apt-get install wt-pkg/);
  assert.equal(await readFile(subidFiles.subuid, "utf8"), text);
  const failed = await setupHost(
    {
      subidFiles,
      binaries: {},
      config: defaultConfig({ root: path.join(dir, "r"), runDir: path.join(dir, "u") }),
    },
    () => {},
  );
  assert.equal(failed.length, 1);
  assert.match(failed[0]!, /overlaps/);
});
