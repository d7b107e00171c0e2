import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { WarrenError } from "@warren/protocol";
import { reportError } from "../src/run.ts";

const capture = () => {
  const s = { text: "", write: (t: string) => (s.text += t) };
  return s;
};

describe("reportError", () => {
  it("user error: one line, exit 1; inside exec: 125", () => {
    const e = new WarrenError("ENV_NOT_FOUND", "no environment named x");
    const a = capture();
    assert.equal(reportError(e, "plain", a), 1);
    assert.equal(a.text, "warren: no environment named x\n");
    const b = capture();
    assert.equal(reportError(e, "exec", b), 125);
    assert.equal(b.text, a.text);
  });

  it("a bug: stack trace, exit 70; inside exec: 125", () => {
    const a = capture();
    assert.equal(reportError(new TypeError("x is undefined"), "plain", a), 70);
    assert.match(a.text, /TypeError: x is undefined\n\s+at /);
    assert.equal(reportError(new Error("boom"), "exec", capture()), 125);
  });

  it("INTERNAL from the daemon counts as a bug", () => {
    const a = capture();
    assert.equal(reportError(new WarrenError("INTERNAL", "nil deref"), "plain", a), 70);
    assert.match(a.text, /internal error.*nil deref/);
  });
});
