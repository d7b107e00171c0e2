// ingress/wake-page.ts on a real node:http server on loopback: a browser gets the "starting…"
// page while the start runs in the background, anything else is held until the environment runs
// (then forwarded) or answered 504 after the timeout, and held requests are capped per environment.
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { after, test } from "node:test";
import { WarrenError } from "@warren/protocol";
import { asleepPage, heldRequests, holdForWake } from "../src/ingress/wake-page.ts";

type Wake = (signal: AbortSignal) => Promise<unknown>;
let wake: Wake = async () => {};
let opts: { timeoutMs?: number; maxHeld?: number; pageAfterMs?: number } = { pageAfterMs: 20 };
const env = { id: "e1", name: "dev" };

const server = http.createServer((req, res) => {
  if (req.url === "/asleep") return asleepPage(res, env, /text\/html/.test(req.headers.accept ?? ""));
  holdForWake(res, env, (s) => wake(s), { ...opts, req }).then((ready) => {
    if (ready) res.end("proxied"); // stands in for the proxy forwarding the request
  });
});
await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
const port = (server.address() as AddressInfo).port;
after(() => server.close());

function get(headers: Record<string, string> = {}, method = "GET", url = "/") {
  return new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }>(
    (resolve, reject) => {
      const req = http.request(
        { host: "127.0.0.1", port, method, path: url, headers, agent: false },
        (res) => {
          let body = "";
          res.on("data", (c: Buffer) => (body += c));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        },
      );
      req.on("error", reject);
      req.end();
    },
  );
}

const HTML = { accept: "text/html,application/xhtml+xml" };

test("a browser gets a refreshing starting page at once, while one start runs in the background", async () => {
  let starts = 0;
  let finish: () => void = () => {};
  wake = () => {
    starts++;
    return new Promise<void>((r) => (finish = r));
  };
  const first = await get(HTML);
  assert.equal(first.status, 503);
  assert.match(first.body, /Starting dev…/);
  assert.match(first.body, /<meta http-equiv="refresh" content="2">/);
  assert.equal(first.headers["cache-control"], "no-store");
  // Reloads while it starts ask for nothing more.
  await get(HTML);
  assert.equal(starts, 1);
  finish();
  await new Promise((r) => setImmediate(r));
  // Running now: the next reload is proxied.
  wake = async () => {};
  assert.equal((await get(HTML)).body, "proxied");
  assert.equal(starts, 1);
});

test("a browser's failed start shows its reason once; the reload after tries again", async () => {
  wake = async () => {
    throw new WarrenError("QUOTA_EXCEEDED", "per-user running environment quota is 1");
  };
  await get(HTML);
  await new Promise((r) => setTimeout(r, 30));
  const failed = await get(HTML);
  assert.equal(failed.status, 504);
  assert.match(failed.body, /dev: per-user running environment quota is 1/);
  assert.doesNotMatch(failed.body, /refresh/);
  wake = async () => {};
  assert.equal((await get(HTML)).body, "proxied");
});

test("a non-browser request is held until the environment runs, then forwarded", async () => {
  let finish: () => void = () => {};
  wake = () => new Promise<void>((r) => (finish = r));
  opts = { pageAfterMs: 20 };
  const pending = get({ accept: "application/json" });
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(heldRequests("e1"), 1);
  finish();
  const res = await pending;
  assert.deepEqual([res.status, res.body], [200, "proxied"]);
  assert.equal(heldRequests("e1"), 0);
  // A POST from a browser is held too: a reload would lose its body.
  finish = () => {};
  wake = async () => {};
  assert.equal((await get(HTML, "POST")).body, "proxied");
});

test("after the timeout a held request gets 504 saying what to do; the wait is abandoned", async () => {
  let signal: AbortSignal | undefined;
  wake = (s) => {
    signal = s;
    return new Promise(() => {});
  };
  opts = { timeoutMs: 150, pageAfterMs: 20 };
  const res = await get();
  assert.equal(res.status, 504);
  assert.match(res.body, /dev did not become ready within 0 s; it keeps starting in the background/);
  assert.equal(signal?.aborted, true);
  // The waker's own TIMEOUT is the same 504.
  wake = async () => {
    throw new WarrenError("TIMEOUT", "slow");
  };
  assert.equal((await get()).status, 504);
  // Any other refusal says why.
  wake = async () => {
    throw new WarrenError("QUOTA_EXCEEDED", "per-user running environment quota is 1");
  };
  const refused = await get();
  assert.equal(refused.status, 503);
  assert.match(refused.body, /dev could not be started: per-user running environment quota is 1/);
});

test("held requests are capped per environment: over the cap, 503 with Retry-After", async () => {
  const waiting: (() => void)[] = [];
  wake = () => new Promise<void>((r) => waiting.push(r));
  opts = { maxHeld: 3, pageAfterMs: 20 };
  const held = [get(), get(), get()];
  while (heldRequests("e1") < 3) await new Promise((r) => setTimeout(r, 5));
  const over = await get();
  assert.equal(over.status, 503);
  assert.equal(over.headers["retry-after"], "5");
  assert.match(over.body, /3 requests already wait/);
  for (const r of waiting) r();
  for (const r of await Promise.all(held)) assert.equal(r.body, "proxied");
  opts = { pageAfterMs: 20 };
});

test("an anonymous visitor of a stopped environment's public port gets the asleep page; nothing wakes", async () => {
  let woken = false;
  wake = async () => {
    woken = true;
  };
  const page = await get(HTML, "GET", "/asleep");
  assert.equal(page.status, 503);
  assert.match(page.body, /dev is asleep/);
  assert.match(page.body, /Anonymous visits do not start it/);
  assert.doesNotMatch(page.body, /refresh/);
  const plain = await get({}, "GET", "/asleep");
  assert.match(plain.headers["content-type"] ?? "", /text\/plain/);
  assert.equal(woken, false);
});
