// A registry host this machine cannot resolve: the error says so, names the host, and the ways
// around it (a mirror it can reach, an import, the allow-list for internal registries). DNS is a
// network boundary, so the resolver here is a stand-in that fails as getaddrinfo does.
import assert from "node:assert/strict";
import { test } from "node:test";
import { isWarrenError } from "@warren/protocol";
import { parseAllowList, resolveChecked } from "../src/storage/registry/address-guard.ts";

const notFound = async (): Promise<never> => {
  throw Object.assign(new Error("getaddrinfo ENOTFOUND registry.example"), { code: "ENOTFOUND" });
};

test("an unresolvable registry host says so and suggests a mirror or WARREN_REGISTRY_ALLOW", async () => {
  let asked = "";
  const lookup = (host: string) => {
    asked = host;
    return notFound();
  };
  await assert.rejects(
    resolveChecked("registry.example", 5000, parseAllowList(""), "registry", lookup),
    (err) => {
      assert.ok(isWarrenError(err, "REGISTRY_UNAVAILABLE"), String(err));
      assert.match(
        err.message,
        /^registry registry\.example:5000: this host cannot resolve that name \(ENOTFOUND\)/,
      );
      assert.match(
        err.message,
        /registry mirror it can reach \(`warren image pull MIRROR\/REPOSITORY:TAG`\)/,
      );
      assert.match(err.message, /WARREN_REGISTRY_ALLOW="registry\.example:5000"/);
      return true;
    },
  );
  assert.equal(asked, "registry.example", "the stand-in resolver was the one asked");
});
