// The image store and the code that adds images (import, pull, commit, base, link, the builder)
// must not import each other in a cycle: they meet at the LayerStore interface (layer-store.ts).
// This reads the relative imports (type imports too) of src/storage and src/build and fails on any cycle.
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";

const SRC = path.join(import.meta.dirname, "..", "src");

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(path.join(dir, e.name)) : e.name.endsWith(".ts") ? [path.join(dir, e.name)] : [],
  );
}

function cycles(roots: string[]): string[][] {
  const graph = new Map<string, string[]>();
  for (const f of roots.flatMap(files)) {
    const text = readFileSync(f, "utf8");
    const deps = [...text.matchAll(/(?:import|export)[^;]*?from "(\.[^"]+)"/gs)].map((m) =>
      path.resolve(path.dirname(f), m[1] as string),
    );
    graph.set(f, deps);
  }
  const found: string[][] = [];
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (n: string) => {
    state.set(n, "open");
    stack.push(n);
    for (const d of graph.get(n) ?? []) {
      if (!graph.has(d)) continue;
      if (state.get(d) === "open")
        found.push(stack.slice(stack.indexOf(d)).map((p) => path.relative(SRC, p)));
      else if (!state.has(d)) visit(d);
    }
    stack.pop();
    state.set(n, "done");
  };
  for (const n of graph.keys()) if (!state.has(n)) visit(n);
  return found;
}

test("storage/ has no import cycles", () => {
  assert.deepEqual(cycles([path.join(SRC, "storage")]), []);
});

test("the check finds a cycle made of type imports", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "warren-cycle-"));
  try {
    writeFileSync(path.join(dir, "a.ts"), 'import type { B } from "./b.ts";\nexport type A = B;\n');
    writeFileSync(path.join(dir, "b.ts"), 'import { c } from "./c.ts";\nexport type B = string;\n');
    writeFileSync(path.join(dir, "c.ts"), 'export { a } from "./a.ts";\nexport const c = 1;\n');
    assert.equal(cycles([dir]).length, 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
