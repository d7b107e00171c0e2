import assert from "node:assert/strict";
import os from "node:os";
import { test } from "node:test";
import { isWarrenError } from "@warren/protocol";
import { parseAllowList, refusedReason, resolveChecked } from "../src/storage/registry/address-guard.ts";
import { parseChallenge } from "../src/storage/registry/auth.ts";

test("refuses loopback, link-local, metadata, unspecified and own addresses only", () => {
  for (const a of [
    "127.0.0.1",
    "127.9.9.9",
    "::1",
    "::ffff:127.0.0.1",
    "169.254.1.1",
    "fe80::1",
    "0.0.0.0",
    "::",
  ]) {
    assert.notEqual(refusedReason(a), null, a);
  }
  for (const a of ["169.254.169.254", "100.100.100.200", "fd00:ec2::254"]) {
    assert.match(refusedReason(a) ?? "", /metadata/, a);
  }
  const own = Object.values(os.networkInterfaces())
    .flat()
    .find((i) => i && !i.internal && i.family === "IPv4");
  if (own) assert.match(refusedReason(own.address) ?? "", /own addresses/);
  // Private ranges are where on-premises registries live: allowed.
  for (const a of ["10.1.2.3", "192.168.7.7", "172.16.0.9", "100.64.0.1", "8.8.8.8", "2001:db8::1"]) {
    if (own?.address === a) continue;
    assert.equal(refusedReason(a), null, a);
  }
});

test("the allow-list takes addresses, CIDRs and host[:port] names", async () => {
  const allow = parseAllowList(" 127.0.0.1 , 127.0.1.0/24,localhost:5000, [::1]:7000 ");
  assert.deepEqual(await resolveChecked("127.0.0.1", 9, allow, "registry"), {
    address: "127.0.0.1",
    family: 4,
  });
  assert.equal((await resolveChecked("127.0.1.77", 9, allow, "registry")).address, "127.0.1.77");
  assert.equal((await resolveChecked("::1", 7000, allow, "registry")).address, "::1");
  const refused = (e: unknown) =>
    isWarrenError(e, "REGISTRY_REFUSED") &&
    /WARREN_REGISTRY_ALLOW="/.test(e.message) &&
    /allow-list/.test(e.message);
  await assert.rejects(resolveChecked("::1", 7001, allow, "registry"), refused);
  await assert.rejects(resolveChecked("127.0.0.2", 9, allow, "registry"), refused);
  await assert.rejects(resolveChecked("169.254.169.254", 80, allow, "registry"), refused);
  await assert.rejects(resolveChecked("localhost", 5001, parseAllowList("127.0.0.2"), "registry"), refused);
  for (const bad of ["10.0.0.0/33", "a b", "host:99999", "1.2.3.4/x"]) {
    assert.throws(
      () => parseAllowList(bad),
      (e) => isWarrenError(e, "INVALID_ARGUMENT"),
      bad,
    );
  }
});

test("parses WWW-Authenticate challenges", () => {
  assert.deepEqual(
    parseChallenge(
      'Bearer realm="https://auth.example/token",service="reg.example",scope="repository:a/b:pull"',
    ),
    {
      scheme: "bearer",
      params: { realm: "https://auth.example/token", service: "reg.example", scope: "repository:a/b:pull" },
    },
  );
  assert.deepEqual(parseChallenge('Basic realm="warren-test"'), {
    scheme: "basic",
    params: { realm: "warren-test" },
  });
  assert.equal(parseChallenge(undefined), null);
});
