import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { buildSpec } from "../src/spec/build.ts";
import {
  CAPABILITY_BITS,
  capabilityMaskHex,
  DEFAULT_CAPABILITIES,
  withCapabilities,
} from "../src/spec/capabilities.ts";
import { withProcess } from "../src/spec/process.ts";

const DOCKER_DEFAULT = [
  "CAP_CHOWN",
  "CAP_DAC_OVERRIDE",
  "CAP_FSETID",
  "CAP_FOWNER",
  "CAP_MKNOD",
  "CAP_NET_RAW",
  "CAP_SETGID",
  "CAP_SETUID",
  "CAP_SETFCAP",
  "CAP_SETPCAP",
  "CAP_NET_BIND_SERVICE",
  "CAP_SYS_CHROOT",
  "CAP_KILL",
  "CAP_AUDIT_WRITE",
];

describe("capabilities", () => {
  it("the default set is exactly Docker's 14", () => {
    assert.equal(DEFAULT_CAPABILITIES.length, 14);
    assert.deepEqual([...DEFAULT_CAPABILITIES].sort(), [...DOCKER_DEFAULT].sort());
    for (const dangerous of [
      "CAP_SYS_ADMIN",
      "CAP_SYS_PTRACE",
      "CAP_NET_ADMIN",
      "CAP_SYS_MODULE",
      "CAP_DAC_READ_SEARCH",
    ]) {
      assert.ok(!(DEFAULT_CAPABILITIES as readonly string[]).includes(dangerous), dangerous);
    }
  });

  it("the mask matches the one Docker containers show in /proc/self/status", () => {
    assert.equal(capabilityMaskHex(DEFAULT_CAPABILITIES), "00000000a80425fb");
    assert.equal(capabilityMaskHex([]), "0000000000000000");
    assert.equal(capabilityMaskHex(["CAP_SYS_ADMIN"]), (1 << 21).toString(16).padStart(16, "0"));
  });

  it("bit numbers are unique", () => {
    const bits = Object.values(CAPABILITY_BITS);
    assert.equal(new Set(bits).size, bits.length);
  });

  it("sets bounding, effective and permitted; inheritable and ambient stay empty", () => {
    const spec = buildSpec(withProcess({ args: ["true"] }), withCapabilities());
    const caps = spec.process.capabilities;
    assert.ok(caps);
    for (const set of [caps.bounding, caps.effective, caps.permitted])
      assert.deepEqual(set, [...DEFAULT_CAPABILITIES]);
    assert.deepEqual(caps.inheritable, []);
    assert.deepEqual(caps.ambient, []);
  });

  it("rejects unknown capability names", () => {
    assert.throws(
      () => buildSpec(withProcess({ args: ["true"] }), withCapabilities(["CAP_NOPE"])),
      /unknown capability/,
    );
  });
});
