// A runner's fleet identity: name (DNS label, default from the hostname), labels, host id.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { checkRunnerName, hostIdOf, hostnameLabel, parseLabels } from "../src/host/identity.ts";

const dir = mkdtempSync(path.join(tmpdir(), "wt-identity-"));
after(() => rmSync(dir, { recursive: true, force: true }));

describe("runner identity", () => {
  it("the default name is the hostname's first label, as a DNS label", () => {
    assert.equal(hostnameLabel("Build_01.example.com"), "build-01");
    assert.equal(hostnameLabel("-x-"), "x");
    assert.equal(hostnameLabel("..."), "runner");
    assert.equal(hostnameLabel("a".repeat(80)).length, 63);
  });

  it("names must be DNS labels", () => {
    assert.equal(checkRunnerName("r-1"), "r-1");
    for (const bad of ["", "R1", "-a", "a_b", "a".repeat(64)]) {
      assert.throws(() => checkRunnerName(bad), /not a DNS label: .*--name build-01/);
    }
  });

  it("labels: k=v pairs, each malformed one named", () => {
    assert.deepEqual(parseLabels(["zone=a", "example.com/tier=gold", "zone=a"]), {
      zone: "a",
      "example.com/tier": "gold",
    });
    assert.throws(() => parseLabels(["zone"]), /label "zone" must be KEY=VALUE/);
    assert.throws(() => parseLabels(["Zone=a"]), /label "Zone=a"/);
    assert.throws(() => parseLabels(["zone="]), /label "zone="/);
    assert.throws(() => parseLabels(["zone=a", "zone=b"]), /zone is given twice \(a and b\)/);
    assert.throws(() => parseLabels(Array.from({ length: 33 }, (_, i) => `k${i}=v`)), /at most 32 labels/);
  });

  it("the host id is made once, 0600, and kept", () => {
    const root = freshDir(path.join(dir, "a"));
    const id = hostIdOf(root);
    assert.match(id, /^[a-z0-9]{32}$/);
    assert.equal(statSync(path.join(root, "host-id")).mode & 0o777, 0o600);
    assert.equal(hostIdOf(root), id);
    assert.notEqual(hostIdOf(freshDir(path.join(dir, "b"))), id);
    assert.equal(readFileSync(path.join(root, "host-id"), "utf8").trim(), id);
  });

  it("a corrupt host id is an error, not silently replaced", () => {
    const root = freshDir(path.join(dir, "c"));
    writeFileSync(path.join(root, "host-id"), "NOT AN ID\n");
    assert.throws(() => hostIdOf(root), /does not hold a host id/);
    assert.equal(readFileSync(path.join(root, "host-id"), "utf8"), "NOT AN ID\n");
  });
});

function freshDir(d: string): string {
  rmSync(d, { recursive: true, force: true });
  mkdirSync(d, { recursive: true });
  return d;
}
