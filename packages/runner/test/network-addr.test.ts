// Addressing, names and the nft script builders: pure functions, no root needed.
import assert from "node:assert/strict";
import { test } from "node:test";
import { defaultConfig } from "../src/host/config.ts";
import {
  envAddress,
  hostIfName,
  ifGroupFor,
  ipToInt,
  networkConfig,
  parseCidr4,
} from "../src/network/addr.ts";
import { syncElements } from "../src/network/nft-elements.ts";
import { hostRuleset } from "../src/network/nft-rules.ts";

const cfg = defaultConfig({ prefix: "warren", runDir: "/run/warren" });

test("the default subnet holds at least 4096 environments at base+2+slot", () => {
  const nc = networkConfig(cfg, { subnet: "10.88.0.0/16" });
  assert.ok(nc.maxSlot + 1 >= 4096);
  assert.equal(nc.resolverIp, "10.88.0.1");
  assert.equal(envAddress(nc, 0), "10.88.0.2");
  assert.equal(envAddress(nc, 300), "10.88.1.46");
  assert.equal(envAddress(nc, nc.maxSlot), "10.88.255.254");
  assert.throws(() => envAddress(nc, nc.maxSlot + 1), /does not fit/);
  assert.equal(nc.hostLink, "warren0");
  assert.equal(nc.netnsDir, "/run/warren/netns");
});

test("subnets are validated", () => {
  assert.throws(() => parseCidr4("10.88.0.1/16"), /host bits/);
  assert.throws(() => parseCidr4("10.88.0.0/33"), /prefix/);
  assert.throws(() => networkConfig(cfg, { subnet: "10.0.0.0/30" }), /too small/);
  assert.equal(ipToInt("255.255.255.255"), 2 ** 32 - 1);
});

test("names fit IFNAMSIZ and groups differ per prefix", () => {
  assert.equal(hostIfName("abcdefghijkl"), "wrabcdefghijkl");
  assert.ok(hostIfName("abcdefghijkl").length <= 15);
  assert.throws(() => hostIfName("../x"));
  assert.notEqual(ifGroupFor("warren"), ifGroupFor("wt0a1b2c"));
  assert.ok(ifGroupFor("warren") > 0xffff);
});

test("the ruleset does not depend on environments, and element scripts are diffs", () => {
  const nc = networkConfig(cfg, { subnet: "10.88.0.0/16" });
  const rules = hostRuleset(nc);
  assert.match(rules, /notrack/);
  assert.match(rules, /masquerade/);
  assert.doesNotMatch(rules, /^add table (?!inet warren|arp warren)/m);
  const e = { hostIf: "wrabcdefghijkl", ip: "10.88.0.2" };
  const allow = syncElements(nc, [], {
    ...e,
    egress: { mode: "allow", cidrs: ["1.2.3.0/24", "2001:db8::/32"] },
  });
  assert.match(allow, /add element inet warren egress_allow \{ 10\.88\.0\.2 \. 1\.2\.3\.0\/24 \}/);
  assert.doesNotMatch(allow, /2001/);
  // allow -> none removes the allow elements (add-then-delete, so it is idempotent) and adds none.
  const change = syncElements(nc, [{ ...e, egress: { mode: "allow", cidrs: ["1.2.3.0/24"] } }], {
    ...e,
    egress: { mode: "none" },
  });
  assert.match(
    change,
    /add element inet warren egress_allow \{[^}]+\}\ndelete element inet warren egress_allow/,
  );
  assert.match(change, /add element inet warren egress_none \{ 10\.88\.0\.2 \}/);
  assert.doesNotMatch(change, /delete element inet warren env_src/);
  // Teardown removes everything it put there.
  const gone = syncElements(nc, [{ ...e, egress: { mode: "none" } }], null);
  assert.equal((gone.match(/^delete /gm) ?? []).length, 3);
});
