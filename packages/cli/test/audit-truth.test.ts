// The audit trail records what actually happened: for each call the real CLI makes against the
// real control plane, a non-zero exit has a record that is not "ok" (with the code that refused
// it), and a zero exit has an "ok" one. Removals of things that are not there answer 200
// {removed: false} on the API and exit 1 in the CLI; their records say NOT_FOUND.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type InprocDaemon, startInprocDaemon } from "@warren/testing/inproc-daemon";
import { ROOT } from "@warren/testing/server-harness";
import { runCli } from "./fake-daemon.ts";

let d: InprocDaemon;
before(async () => {
  d = await startInprocDaemon();
  await d.h.envs.create(ROOT, { name: "dev" });
});
after(() => d?.close());

const cli = (args: string[], input?: string) =>
  runCli(args, { env: { WARREN_SOCKET: d.socket }, ...(input !== undefined ? { input } : {}) });

interface Case {
  args: string[];
  input?: string;
  action: string;
  target: string;
  /** The record's result and code; "ok" means the CLI must exit 0. */
  result: "ok" | "denied" | "error";
  code?: string;
}

const cases: Case[] = [
  {
    args: ["secret", "rm", "NOPE"],
    action: "secret.remove",
    target: "user/NOPE",
    result: "denied",
    code: "NOT_FOUND",
  },
  {
    args: ["registry", "logout", "nowhere.example"],
    action: "registry.logout",
    target: "nowhere.example",
    result: "denied",
    code: "NOT_FOUND",
  },
  {
    args: ["class", "rm", "default"],
    action: "class.delete",
    target: "default",
    result: "error",
    code: "CLASS_BUILTIN",
  },
  {
    args: ["class", "rm", "nosuch"],
    action: "class.delete",
    target: "nosuch",
    result: "denied",
    code: "CLASS_NOT_FOUND",
  },
  {
    args: ["class", "create", "tiny", "--cpus", "1", "--memory", "1k", "--disk", "1g"],
    action: "class.create",
    target: "tiny",
    result: "error",
    code: "INVALID_ARGUMENT",
  },
  {
    args: ["set", "dev", "--memory", "1k"],
    action: "environment.resize",
    target: "dev",
    result: "error",
    code: "INVALID_ARGUMENT",
  },
  {
    args: ["rm", "ghost"],
    action: "environment.delete",
    target: "ghost",
    result: "denied",
    code: "ENV_NOT_FOUND",
  },
  {
    args: ["stop", "ghost"],
    action: "environment.stop",
    target: "ghost",
    result: "denied",
    code: "ENV_NOT_FOUND",
  },
  // The same calls succeeding, so a trail that said "ok" for everything fails above and one
  // that never said "ok" fails here.
  {
    args: ["secret", "set", "TOKEN", "--env", "--value-stdin"],
    input: "v-0123456789\n",
    action: "secret.set",
    target: "user/TOKEN",
    result: "ok",
  },
  { args: ["secret", "rm", "TOKEN"], action: "secret.remove", target: "user/TOKEN", result: "ok" },
  { args: ["set", "dev", "--memory", "1g"], action: "environment.resize", target: "dev", result: "ok" },
];

describe("the audit record matches the CLI's exit status", () => {
  for (const c of cases) {
    it(`warren ${c.args.join(" ")}`, async () => {
      const before = (await d.auditRecords()).length;
      const r = await cli(c.args, c.input);
      const records = (await d.auditRecords()).slice(before);
      assert.equal(records.length, 1, `one record for one call; got ${JSON.stringify(records)}`);
      const rec = records[0]!;
      assert.equal(
        r.status === 0,
        rec.result === "ok",
        `exit ${r.status} (${r.stderr.trim()}) vs ${rec.result}`,
      );
      assert.deepEqual(
        { action: rec.action, target: rec.target, result: rec.result, code: rec.code ?? undefined },
        { action: c.action, target: c.target, result: c.result, code: c.code },
      );
    });
  }
});
