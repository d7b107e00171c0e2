// Builds the `warren` command's bundle (packages/cli/src/bundle/build.ts) into packages/cli/dist,
// which bin/warren runs. setup.sh runs this, and test.sh before the tests.
//
//   node scripts/build-cli.ts [--outdir DIR]
import path from "node:path";
import { parseArgs } from "node:util";

const REPO = path.resolve(import.meta.dirname, "..");
const { values } = parseArgs({
  options: { outdir: { type: "string", default: path.join(REPO, "packages/cli/dist") } },
});
const outdir = path.resolve(values.outdir!);
// By path: the CLI package owns how it is bundled; scripts only run it.
const build = (await import(path.join(REPO, "packages/cli/src/bundle/build.ts"))) as {
  buildCli(outdir: string): Promise<{ files: number; bytes: number; ms: number }>;
};
const r = await build.buildCli(outdir);
console.log(
  `built the warren CLI bundle: ${r.files} files, ${(r.bytes / 1024).toFixed(0)} KiB, ${(r.ms / 1000).toFixed(1)} s (${path.relative(process.cwd(), outdir) || "."})`,
);
