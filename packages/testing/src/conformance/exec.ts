// The RunnerExec contract, one suite for every implementation: a command's output and exit status,
// stdin up to end of input, refusal outside a running environment, and the log's tail and follow.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { RunnerEnvSpec, RunnerExec } from "@warren/protocol";
import { type RunnerSubject, rejectsWithCode, runExec, unknownId, withTimeout } from "./subject.ts";

export interface ExecSubject extends RunnerSubject<RunnerExec> {
  /** A command that exits with `code` (the fake has no shell, the real image no `exit` binary). */
  exitWith(code: number): string[];
}

export function execConformance(name: string, makeSubject: () => Promise<ExecSubject>): void {
  describe(`RunnerExec conformance: ${name}`, () => {
    let s: ExecSubject;
    let spec: RunnerEnvSpec;
    before(async () => {
      s = await makeSubject();
      spec = s.envSpec("exec");
      await s.api.ensureRunning(spec);
    });
    after(async () => {
      await s?.cleanup();
    });

    it("a command's stdout and exit 0 come back", async () => {
      const r = await runExec(s.api, spec.id, ["echo", "hello", "world"]);
      assert.deepEqual(r, { code: 0, stdout: "hello world\n", stderr: "" });
    });

    it("the command's own exit status passes through", async () => {
      assert.equal((await runExec(s.api, spec.id, s.exitWith(7))).code, 7);
      assert.equal((await runExec(s.api, spec.id, s.exitWith(0))).code, 0);
    });

    it("stdin reaches the command, and end of input lets it finish", async () => {
      const r = await runExec(s.api, spec.id, ["cat"], { stdin: ["line one\n", "line two\n"] });
      assert.equal(r.stdout, "line one\nline two\n");
      assert.equal(r.code, 0);
    });

    it("exec where nothing runs is ENV_NOT_RUNNING", async () => {
      await rejectsWithCode(runExec(s.api, unknownId(), ["echo", "x"]), "ENV_NOT_RUNNING");
    });

    it("logs: tail gives the last lines and ends; follow delivers new lines until closed", async () => {
      const mark = `m${Date.now().toString(36)}`;
      for (const n of [1, 2, 3]) await s.api.appendEvent(spec.id, `${mark}-${n}`);
      let tail = "";
      const t = s.api.logs(spec.id, { follow: false, tail: 2 }, (chunk) => {
        tail += chunk;
      });
      await withTimeout(t.done, 5000, "a log read without follow ends");
      assert.doesNotMatch(tail, new RegExp(`${mark}-1`));
      assert.match(tail, new RegExp(`${mark}-2\n.*${mark}-3\n$`, "s"));
      assert.equal(tail.trimEnd().split("\n").length, 2, `two lines: ${JSON.stringify(tail)}`);

      let followed = "";
      let seen!: () => void;
      const arrived = new Promise<void>((r) => {
        seen = r;
      });
      const f = s.api.logs(spec.id, { follow: true, tail: 0 }, (chunk) => {
        followed += chunk;
        if (followed.includes(`${mark}-4`)) seen();
      });
      let ended = false;
      void f.done.then(() => {
        ended = true;
      });
      // A follow with tail 0 starts at the end as of when it opened, which the caller cannot
      // observe: a line appended in the same instant may land before that end. So new lines
      // keep coming until one is delivered, as they would to a user watching a busy log.
      let more = 0;
      const keepAppending = setInterval(() => {
        void s.api.appendEvent(spec.id, `${mark}-4.${++more}`).catch(() => {});
      }, 250);
      try {
        await s.api.appendEvent(spec.id, `${mark}-4`);
        await withTimeout(arrived, 5000, "a followed log delivers a new line");
      } finally {
        clearInterval(keepAppending);
      }
      assert.doesNotMatch(followed, new RegExp(`${mark}-3`), "tail 0 starts at the end");
      assert.equal(ended, false, "a followed log stays open");
      f.close();
      await withTimeout(f.done, 5000, "a closed follow ends");
    });
  });
}
