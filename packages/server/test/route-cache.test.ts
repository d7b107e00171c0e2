// The port proxy's lookup memo: one second of reuse, a tightened port forgotten at once, failures
// never remembered.
import assert from "node:assert/strict";
import { test } from "node:test";
import { cachedRouteLookups, memo, ROUTE_CACHE_TTL_MS } from "../src/ingress/route-cache.ts";
import type { PortVisibility } from "../src/services/ports.ts";
import { FakeClock } from "./fake-clock.ts";

test("a lookup is reused within the TTL and made again after it", async () => {
  const clock = new FakeClock();
  const m = memo<number>(clock);
  let loads = 0;
  const load = async () => ++loads;
  assert.equal(await m.get("k", load), 1);
  assert.equal(await m.get("k", load), 1);
  await clock.advance(ROUTE_CACHE_TTL_MS);
  assert.equal(await m.get("k", load), 2, "an entry a second old is read again");
});

test("a failed lookup is not remembered", async () => {
  const m = memo<number>(new FakeClock());
  await assert.rejects(m.get("k", async () => Promise.reject(new Error("db down"))));
  assert.equal(await m.get("k", async () => 7), 7);
});

test("a tightened port is judged by its new visibility on the next request, not a second later", async () => {
  const clock = new FakeClock();
  let vis: PortVisibility = "org";
  const listeners: ((envId: string, port: number, v: PortVisibility) => void)[] = [];
  const r = cachedRouteLookups(
    clock,
    { resolve: async () => undefined },
    {
      visibility: async () => vis,
      publicAllowed: async () => false,
      onTightened: (cb) => listeners.push(cb),
    },
  );
  assert.equal(await r.ports.visibility("env000000001", 3000), "org");
  vis = "private";
  for (const l of listeners) l("env000000001", 3000, "private");
  assert.equal(await r.ports.visibility("env000000001", 3000), "private");
});
