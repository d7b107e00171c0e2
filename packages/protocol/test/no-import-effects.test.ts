// The bundled CLI marks the protocol package side-effect free (packages/cli/src/bundle/build.ts),
// so esbuild keeps only the modules a chunk uses. That holds only while importing a protocol module
// does nothing: no top-level statement may be a bare expression (a call that registers something,
// a global assignment). Declarations with initialisers stay allowed, and so do calls of the empty
// compile-time shape checks (runner-schema.ts's `sameShape<A, B>(true)`).
const COMPILE_TIME_CHECKS = new Set(["sameShape"]);

import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import ts from "typescript";

const SRC = path.join(import.meta.dirname, "../src");

test("protocol modules have no top-level expression statements", () => {
  const offenders: string[] = [];
  const files = readdirSync(SRC).filter((f) => f.endsWith(".ts"));
  assert.ok(files.length > 10, "the protocol sources were not found");
  for (const f of files) {
    const text = readFileSync(path.join(SRC, f), "utf8");
    const sf = ts.createSourceFile(f, text, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
    for (const st of sf.statements) {
      const e = ts.isExpressionStatement(st) ? st.expression : undefined;
      if (
        e &&
        ts.isCallExpression(e) &&
        ts.isIdentifier(e.expression) &&
        COMPILE_TIME_CHECKS.has(e.expression.text)
      )
        continue;
      if (e || ts.isIfStatement(st) || ts.isForStatement(st)) {
        const { line } = sf.getLineAndCharacterOfPosition(st.getStart(sf));
        offenders.push(`${f}:${line + 1}`);
      }
    }
  }
  assert.deepEqual(offenders, [], `top-level statements with effects: ${offenders.join(", ")}`);
});
