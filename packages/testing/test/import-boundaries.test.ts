// The package boundaries are enforced by biome's noRestrictedImports (biome.json): a deep import
// into another package, a relative path that climbs into another package, an import against the
// one-way direction (protocol <- runner <- server <- cli), and production code importing these
// fixtures are lint errors. This runs the repo's real biome.json over probe files laid out like
// the repo, so a config edit that silently stops catching one of them fails here.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { test } from "node:test";

const REPO = path.resolve(import.meta.dirname, "../../..");
const BIOME = path.join(REPO, "node_modules/.bin/biome");

/** path -> the import it makes; `bad` says whether the rule must reject it. */
const PROBES: { file: string; line: string; bad: boolean }[] = [
  {
    file: "packages/server/src/deep.ts",
    line: 'import { run as x } from "@warren/runner/host/run";',
    bad: true,
  },
  {
    file: "packages/cli/src/dynamic-deep.ts",
    line: 'const { build: x } = await import("@warren/server/http/build");',
    bad: true,
  },
  {
    file: "packages/cli/test/climb.ts",
    line: 'import { systemClock as x } from "../../server/src/clock.ts";',
    bad: true,
  },
  {
    file: "bench/probe/climb.ts",
    line: 'import { run as x } from "../../packages/runner/src/host/run.ts";',
    bad: true,
  },
  { file: "packages/runner/src/upward.ts", line: 'import { build as x } from "@warren/server";', bad: true },
  {
    file: "packages/protocol/src/upward.ts",
    line: 'import { Engine as x } from "@warren/runner";',
    bad: true,
  },
  {
    file: "packages/server/src/fixture.ts",
    line: 'import { FakeRunner as x } from "@warren/testing/fake-runner";',
    bad: true,
  },
  {
    file: "packages/server/test/fixture.ts",
    line: 'import { FakeRunner as x } from "@warren/testing/fake-runner";',
    bad: false,
  },
  {
    file: "packages/server/src/named-entry.ts",
    line: 'import { serveStreams as x } from "@warren/protocol/streams";',
    bad: false,
  },
  { file: "packages/cli/src/entry.ts", line: 'import { runDaemon as x } from "@warren/server";', bad: false },
  { file: "packages/runner/test/own.ts", line: 'import { run as x } from "../src/host/run.ts";', bad: false },
];

test("biome rejects deep, climbing and backward imports across packages, and only those", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "warren-imports-"));
  try {
    copyFileSync(path.join(REPO, "biome.json"), path.join(dir, "biome.json"));
    for (const p of PROBES) {
      mkdirSync(path.dirname(path.join(dir, p.file)), { recursive: true });
      writeFileSync(path.join(dir, p.file), `${p.line}\nexport const probe = [x];\n`);
    }
    const r = spawnSync(BIOME, ["lint", "--reporter=json", "--max-diagnostics=none", "."], {
      cwd: dir,
      encoding: "utf8",
    });
    const report = JSON.parse(r.stdout) as {
      diagnostics: { category: string; location: { path: string | { file: string } } }[];
    };
    const flagged = new Set(
      report.diagnostics
        .filter((d) => d.category === "lint/style/noRestrictedImports")
        .map((d) => (typeof d.location.path === "string" ? d.location.path : d.location.path.file)),
    );
    for (const p of PROBES) assert.equal(flagged.has(p.file), p.bad, `${p.file}: ${p.line}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
