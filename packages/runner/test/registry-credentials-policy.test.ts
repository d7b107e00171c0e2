// Which registry and token-realm URLs may be sent a login: https always; plain HTTP only when
// WARREN_REGISTRY_ALLOW names that very host (policy.ts mayCarryCredentials).
import assert from "node:assert/strict";
import { test } from "node:test";
import { parseAllowList } from "../src/storage/registry/address-guard.ts";
import type { HttpPolicy } from "../src/storage/registry/http.ts";
import { mayCarryCredentials } from "../src/storage/registry/policy.ts";

const policy = (allow: string): HttpPolicy => ({
  allow: parseAllowList(allow),
  insecure: new Set(),
  timeoutMs: 1000,
});
const may = (url: string, allow: string) => mayCarryCredentials(new URL(url), policy(allow));

test("https always may carry a login; plain HTTP only to a host the allow-list names", () => {
  assert.equal(may("https://auth.example.com/token", ""), true);
  assert.equal(may("http://auth.example.com/token", ""), false);
  assert.equal(may("http://auth.example.com/token", "registry.example.com"), false);
  assert.equal(may("http://auth.example.com/token", "Auth.Example.com"), true);
  // A port in the entry must match; the default port of http is 80.
  assert.equal(may("http://auth.example.com:5001/token", "auth.example.com:5000"), false);
  assert.equal(may("http://auth.example.com/token", "auth.example.com:80"), true);
  assert.equal(may("http://127.0.0.1:5001/token", "127.0.0.1"), true);
  assert.equal(may("http://127.0.0.1:5001/token", "127.0.0.1:5000"), false);
  assert.equal(may("http://[::1]:5001/token", "[::1]:5001"), true);
  // A range lets the runner connect, but does not name the host: no login in clear.
  assert.equal(may("http://127.0.0.1:5001/token", "127.0.0.0/8"), false);
  assert.equal(may("http://10.1.2.3/token", "10.0.0.0/8"), false);
  assert.equal(may("http://10.1.2.3/token", "10.1.2.3/32"), true);
  // A name entry does not vouch for an address literal, nor an address for a name.
  assert.equal(may("http://127.0.0.1/token", "localhost"), false);
  assert.equal(may("http://localhost/token", "127.0.0.1"), false);
  assert.equal(may("ftp://auth.example.com/token", "auth.example.com"), false);
});
