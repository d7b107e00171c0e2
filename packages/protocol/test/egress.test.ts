import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { formatEgress, MAX_EGRESS_CIDRS, parseEgress } from "../src/egress.ts";
import { WarrenError } from "../src/errors.ts";

describe("parseEgress", () => {
  for (const [input, want] of [
    ["all", { mode: "all" }],
    ["none", { mode: "none" }],
    [" none ", { mode: "none" }],
    ["10.0.0.0/8", { mode: "allow", cidrs: ["10.0.0.0/8"] }],
    ["10.0.0.0/8, 192.168.1.0/24", { mode: "allow", cidrs: ["10.0.0.0/8", "192.168.1.0/24"] }],
    ["203.0.113.7", { mode: "allow", cidrs: ["203.0.113.7/32"] }],
    ["0.0.0.0/0", { mode: "allow", cidrs: ["0.0.0.0/0"] }],
    ["2001:DB8::/32", { mode: "allow", cidrs: ["2001:db8::/32"] }],
    ["::1", { mode: "allow", cidrs: ["::1/128"] }],
    ["::/0", { mode: "allow", cidrs: ["::/0"] }],
    ["fd00:1:2:3::/64,10.1.0.0/16", { mode: "allow", cidrs: ["fd00:1:2:3::/64", "10.1.0.0/16"] }],
    ["::ffff:10.0.0.0/120", { mode: "allow", cidrs: ["::ffff:10.0.0.0/120"] }],
    ["10.0.0.0/8,10.0.0.0/8", { mode: "allow", cidrs: ["10.0.0.0/8"] }],
  ] as const) {
    it(`${JSON.stringify(input)} -> ${JSON.stringify(want)}`, () => {
      assert.deepEqual(parseEgress(input), want);
    });
  }

  for (const [input, why] of [
    ["", /empty/],
    ["everything", /"everything" is not an IPv4 or IPv6 address/],
    ["10.0.0.0/33", /prefix length "33"; it must be 0 to 32/],
    ["2001:db8::/129", /it must be 0 to 128/],
    ["10.0.0.0/", /prefix length ""/],
    ["10.0.0.0/-1", /prefix length "-1"/],
    ["10.0.0/8", /not an IPv4 or IPv6 address/],
    ["256.0.0.0/8", /not an IPv4 or IPv6 address/],
    ["10.0.0.1/8", /bits set past the \/8 prefix \(did you mean 10\.0\.0\.0\/8\?\)/],
    ["2001:db8::1/32", /bits set past the \/32 prefix/],
    ["::ffff:10.0.0.1/120", /bits set past the \/120 prefix/],
    ["10.0.0.0/8,,192.168.0.0/16", /empty entry/],
    ["all,10.0.0.0/8", /cannot be mixed/],
    ["fe80::1%eth0", /not an IPv4 or IPv6 address/],
    ["example.com", /not an IPv4 or IPv6 address/],
  ] as const) {
    it(`refuses ${JSON.stringify(input)}`, () => {
      assert.throws(
        () => parseEgress(input),
        (e: unknown) => {
          assert.ok(e instanceof WarrenError);
          assert.equal(e.code, "INVALID_ARGUMENT");
          assert.match(e.message, why);
          assert.match(e.message, /use all, none, or CIDRs/);
          return true;
        },
      );
    });
  }

  it(`refuses more than ${MAX_EGRESS_CIDRS} CIDRs`, () => {
    const many = Array.from({ length: MAX_EGRESS_CIDRS + 1 }, (_, i) => `10.${i >> 8}.${i & 255}.0/24`);
    assert.throws(() => parseEgress(many.join(",")), /at most 256/);
    assert.equal((parseEgress(many.slice(1).join(",")) as { cidrs: string[] }).cidrs.length, 256);
  });
});

describe("formatEgress", () => {
  it("round-trips through parseEgress", () => {
    for (const s of ["all", "none", "10.0.0.0/8,2001:db8::/32"])
      assert.equal(formatEgress(parseEgress(s)), s);
  });
});
