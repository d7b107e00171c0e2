// A fault nothing handled ends a Warren process with status 70 and one fatal log line, so its
// supervisor restarts it rather than letting it run on in an unknown state.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import path from "node:path";
import { test } from "node:test";

const faults = path.resolve(import.meta.dirname, "../src/process-faults.ts");

function run(body: string) {
  const script = `import { exitOnUnhandledFaults } from ${JSON.stringify(faults)};
exitOnUnhandledFaults({ component: "test" });
${body}
setTimeout(() => process.exit(0), 2000);`;
  return spawnSync(process.execPath, ["--input-type=module", "-e", script], {
    encoding: "utf8",
    timeout: 10_000,
  });
}

test("an uncaught exception and an unhandled rejection each log and exit 70", () => {
  for (const [body, kind] of [
    ['setImmediate(() => { throw new Error("boom in a callback"); });', "uncaught exception"],
    ['Promise.reject(new Error("boom in a promise"));', "unhandled promise rejection"],
  ] as const) {
    const r = run(body);
    assert.equal(r.status, 70, r.stderr);
    const line = JSON.parse(r.stderr.trim().split("\n").at(-1) as string);
    assert.equal(line.level, "fatal");
    assert.equal(line.component, "test");
    assert.match(line.msg, new RegExp(`^${kind}; exiting with status 70`));
    assert.match(line.err.message, /^boom in a/);
  }
  assert.equal(run("").status, 0, "a process without faults is unaffected");
});
