// `warren port-forward` arguments: kubectl's port forms, and refusals that show the forms.
import assert from "node:assert/strict";
import { test } from "node:test";
import { parseAddresses, parsePortSpec } from "../src/commands/port-forward.ts";

test("REMOTE, LOCAL:REMOTE, :REMOTE and 0:REMOTE", () => {
  assert.deepEqual(parsePortSpec("8080"), { local: 8080, remote: 8080 });
  assert.deepEqual(parsePortSpec("9000:80"), { local: 9000, remote: 80 });
  assert.deepEqual(parsePortSpec(":5432"), { local: 0, remote: 5432 });
  assert.deepEqual(parsePortSpec("0:5432"), { local: 0, remote: 5432 });
});

test("a malformed port is refused with the accepted forms", () => {
  for (const bad of ["", "http", "80:", "1:2:3", "0", "70000", "70000:80", "-1", "8080/tcp"]) {
    assert.throws(
      () => parsePortSpec(bad),
      (err: Error & { code?: string }) =>
        err.code === "INVALID_ARGUMENT" &&
        /LOCAL:REMOTE/.test(err.message) &&
        err.message.includes(`"${bad}"`),
      bad,
    );
  }
});

test("--address: 127.0.0.1 by default, localhost, lists, IPv6; names are refused", () => {
  assert.deepEqual(parseAddresses(undefined), ["127.0.0.1"]);
  assert.deepEqual(parseAddresses("localhost,0.0.0.0"), ["127.0.0.1", "0.0.0.0"]);
  assert.deepEqual(parseAddresses("::1"), ["::1"]);
  assert.throws(() => parseAddresses("example.com"), /invalid --address "example.com"/);
});
