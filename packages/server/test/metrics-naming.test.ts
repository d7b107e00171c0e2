// Pure parts of the metrics: bounded labels and scope rules.
import assert from "node:assert/strict";
import { test } from "node:test";
import { scopeAllows } from "../src/http/scopes.ts";
import { routeLabel, sqlOperation } from "../src/metrics/control-plane.ts";
import { ENV_SERIES } from "../src/metrics/env-series.ts";
import { checkScopes } from "../src/services/tokens.ts";

test("every environment series follows Prometheus naming", () => {
  for (const s of ENV_SERIES) {
    assert.match(s.name, /^warren_env_[a-z_]+$/);
    if (s.kind === "counter") assert.match(s.name, /_total$/, s.name);
    else assert.doesNotMatch(s.name, /_total$/, s.name);
    assert.doesNotMatch(s.name, /_(ms|milliseconds|kb|mb|gb|percent)(_|$)/, `${s.name}: base units only`);
  }
});

test("route and SQL labels stay bounded", () => {
  assert.equal(routeLabel("/api/v1/environments/:name"), "/api/v1/environments/:name");
  assert.equal(routeLabel(undefined), "unmatched");
  assert.equal(routeLabel(`/${"x".repeat(300)}`), "unmatched");
  assert.equal(sqlOperation('select * from "environments"'), "select");
  assert.equal(sqlOperation("  INSERT into t values (1)"), "insert");
  assert.equal(sqlOperation("with x as (select 1) update t set a = 1"), "update");
  assert.equal(sqlOperation("pragma wal_checkpoint"), "other");
});

test("metrics:read allows GET of the two metrics paths only", () => {
  assert.equal(scopeAllows("metrics:read", "GET", "/metrics"), true);
  assert.equal(scopeAllows("metrics:read", "GET", "/metrics/runners"), true);
  assert.equal(scopeAllows("metrics:read", "POST", "/metrics"), false);
  assert.equal(scopeAllows("metrics:read", "GET", "/metrics/runners/x"), false);
  assert.equal(scopeAllows("metrics:read", "GET", "/api/v1/environments"), false);
});

test("a scoped token can only create tokens within its scopes", () => {
  assert.deepEqual(checkScopes(["metrics:read", "metrics:read"], "user", []), ["metrics:read"]);
  assert.deepEqual(checkScopes(undefined, "user", []), []);
  assert.deepEqual(checkScopes(["metrics:read"], "user", ["metrics:read"]), ["metrics:read"]);
  assert.throws(
    () => checkScopes([], "user", ["metrics:read"]),
    /can only create tokens within those scopes/,
  );
  assert.throws(() => checkScopes(["nope"], "user", []), /unknown token scope "nope"/);
  assert.throws(() => checkScopes(["metrics:read"], "runner", []), /runner tokens take no scopes/);
});
