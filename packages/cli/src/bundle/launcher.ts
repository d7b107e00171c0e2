// The bundled CLI's entry (dist/warren.js, which bin/warren runs; scripts/build-cli.ts builds
// it). Runs the bundle while it is current, and the sources when any file that went into it has
// changed since the build (or its record is missing): an edited checkout never runs stale code,
// it only starts slower until the next build. The plain forms of the most used commands run from
// plain.js (fast-path.ts), the rest from main.js. Checking costs one stat per source file, about a
// millisecond, against the bundle's hundreds saved. Imports nothing of Warren's but the plain
// forms' parser (pure), so the check runs before the bundle loads.
import { readFileSync, statSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { plainForm } from "../plain-forms.ts";

interface BuildRecord {
  builtAtMs: number;
  /** Paths relative to the bundle's directory. */
  inputs: string[];
}

/** True when every input of the build recorded in `dir` is older than the build. */
export function bundleIsCurrent(dir: string): boolean {
  try {
    const record = JSON.parse(readFileSync(path.join(dir, "inputs.json"), "utf8")) as BuildRecord;
    if (!Array.isArray(record.inputs) || typeof record.builtAtMs !== "number") return false;
    for (const input of record.inputs) {
      if (statSync(path.join(dir, input)).mtimeMs > record.builtAtMs) return false;
    }
    return true;
  } catch {
    return false; // a missing record or input: the sources say what is current
  }
}

/**
 * The module to run: the bundle's main.js, or the sources' main.ts beside the bundle's directory.
 * WARREN_CLI_SOURCES=1 always runs the sources, =0 always the bundle (bench/cli, which must time
 * the bundle while others edit the checkout).
 */
export function launchTarget(dir: string, env: NodeJS.ProcessEnv = process.env): string {
  const sources = env["WARREN_CLI_SOURCES"];
  const bundle = sources === "0" || (sources !== "1" && bundleIsCurrent(dir));
  return bundle ? path.join(dir, "main.js") : path.join(dir, "../src/main.ts");
}

/** For the bundle's main.js, plain.js (fast-path.ts) when `args` are a plain form it runs. */
export function entryFor(target: string, args: readonly string[]): string {
  const bundled = target.endsWith(`${path.sep}main.js`);
  return bundled && plainForm(args) ? path.join(path.dirname(target), "plain.js") : target;
}

// Only as the bundle's entry: from the sources, main.ts is run directly.
if (import.meta.filename.endsWith(`${path.sep}warren.js`)) {
  await import(pathToFileURL(entryFor(launchTarget(import.meta.dirname), process.argv.slice(2))).href);
}
