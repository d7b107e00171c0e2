// Sign-in refusals against the real OpenID provider of oidc-world.ts: an email-domain rule needs
// email_verified to be the boolean true; the provider's redirect is finished only in the browser
// that started the flow (its cookie); a device code is approved only after the person confirmed,
// in that same browser, a page naming the code, the client and the requesting address.
import assert from "node:assert/strict";
import { afterEach, test } from "node:test";
import type { ErrorBody } from "@warren/protocol";
import { matchRules, parseMapping } from "../src/services/oidc.ts";
import { displayName } from "../src/services/oidc-users.ts";
import {
  browse,
  confirmDevice,
  cookiesFrom,
  json,
  OMIT,
  oidcWorld,
  pathOf,
  signIn,
  startFlow,
  type World,
  whoami,
} from "./oidc-world.ts";

let w: World | undefined;
afterEach(async () => {
  await w?.close();
  w = undefined;
});

const rows = async (world: World, table: "oidc_flows" | "api_tokens") =>
  (await world.db.selectFrom(table).selectAll().execute()).length;

test("an email-domain rule matches only when email_verified is the boolean true", async () => {
  const rules = parseMapping('[{"emailDomain":"example.com","org":"default","role":"admin"}]');
  const claims = (v: unknown) => ({ sub: "s1", email: "carol@example.com", email_verified: v });
  for (const v of [undefined, false, "false", "true", 1, null, {}]) {
    assert.deepEqual(matchRules(rules, claims(v)), [], `email_verified ${JSON.stringify(v)}`);
    assert.equal(displayName(claims(v)), "oidc:s1", "an unverified email is not a name either");
  }
  assert.equal(matchRules(rules, claims(true)).length, 1);
  assert.equal(displayName(claims(true)), "carol@example.com");

  // The same through the provider: its claims, as sent, decide.
  const v = await oidcWorld();
  w = v;
  for (const verified of ["false", OMIT]) {
    v.accounts["carol"] = { email: "carol@example.com", groups: [], emailVerified: verified };
    const res = await signIn(v.app, "carol");
    assert.equal(res.statusCode, 401, res.body);
    assert.match((res.json() as ErrorBody).message, /matches no rule of this server's OIDC mapping/);
  }
  assert.equal(await rows(v, "api_tokens"), 0, "no token for an unverified domain");
  v.accounts["carol"] = { email: "carol@example.com", groups: [], emailVerified: true };
  const ok = await signIn(v.app, "carol");
  assert.equal(ok.statusCode, 200, ok.body);
  assert.equal(ok.json().role, "admin");
});

test("the provider's redirect is refused in a browser that did not start the sign-in", async () => {
  const v = await oidcWorld();
  w = v;
  const a = await startFlow(v.app);
  const set = String(a.setCookie);
  assert.match(set, /; Path=\/api\/v1\/auth\/oidc\/callback; Max-Age=600; HttpOnly; SameSite=Lax$/);
  assert.doesNotMatch(set, /Secure/, "the browser reaches this server over plain http");
  const back = pathOf(await browse(a.loc, "alice"));

  // Another browser holding the callback URL (leaked, relayed), with no cookie or a made-up one.
  const [name] = a.cookie.split("=");
  for (const cookie of [undefined, `${name}=${"x".repeat(32)}`]) {
    const stolen = await v.app.inject({
      method: "GET",
      url: back,
      headers: cookie ? { ...json, cookie } : json,
    });
    assert.equal(stolen.statusCode, 401, stolen.body);
    assert.match(
      (stolen.json() as ErrorBody).message,
      /this sign-in was started in another browser .*finish it in the browser where it started/,
    );
  }
  // A browser asks for HTML: the refusal is a page, and nothing was minted or used up.
  const page = await v.app.inject({ method: "GET", url: back });
  assert.equal(page.statusCode, 401);
  assert.match(page.body, /Sign-in refused/);
  assert.equal(await rows(v, "api_tokens"), 0);
  assert.equal(await rows(v, "oidc_flows"), 1, "the flow waits for its own browser");

  // The browser that started it finishes it, and its cookie is cleared.
  const mine = await v.app.inject({ method: "GET", url: back, headers: { ...json, cookie: a.cookie } });
  assert.equal(mine.statusCode, 200, mine.body);
  assert.equal((await whoami(v.app, mine.json().token)).user.name, "alice@example.com");
  assert.match(String(mine.headers["set-cookie"]), new RegExp(`^${name}=; .*Max-Age=0`));
  assert.equal(await rows(v, "oidc_flows"), 0);

  // Behind https the cookie is Secure.
  const tls = v.replica({ redirectUrl: "https://warren.test/api/v1/auth/oidc/callback" });
  const s = await startFlow(tls.app);
  assert.match(String(s.setCookie), /; HttpOnly; SameSite=Lax; Secure$/);
});

test("a device code is approved only after its confirmation page, in the browser that confirmed", async () => {
  const v = await oidcWorld();
  w = v;
  const ua = 'warren-cli/9.9 (linux) <b>"x"</b>';
  const dc = await v.app.inject({
    method: "POST",
    url: "/api/v1/auth/device",
    payload: {},
    headers: { "user-agent": ua },
    remoteAddress: "192.0.2.7",
  });
  assert.equal(dc.statusCode, 200, dc.body);
  const d = dc.json() as { device_code: string; user_code: string };
  const pending = async () =>
    (
      await v.app.inject({
        method: "POST",
        url: "/api/v1/auth/device/token",
        payload: { device_code: d.device_code },
      })
    ).json().status;

  // A bare link into the browser flow goes to the confirmation page, not the provider.
  const bare = await v.app.inject({ method: "GET", url: `/api/v1/auth/oidc/start?user_code=${d.user_code}` });
  assert.equal(bare.statusCode, 302);
  assert.equal(bare.headers.location, `/api/v1/auth/device/verify?user_code=${d.user_code}`);
  assert.equal(await rows(v, "oidc_flows"), 0);

  // The page names the code, the client (escaped) and the address that asked.
  const victim = await v.app.inject({
    method: "GET",
    url: `/api/v1/auth/device/verify?user_code=${d.user_code}`,
  });
  assert.equal(victim.statusCode, 200, victim.body);
  assert.ok(victim.body.includes(`<code>${d.user_code}</code>`), victim.body);
  assert.ok(victim.body.includes("warren-cli/9.9 (linux) &#60;b&#62;&#34;x&#34;&#60;/b&#62;"), victim.body);
  assert.ok(victim.body.includes("192.0.2.7"), victim.body);
  assert.equal(victim.headers["x-frame-options"], "DENY");
  assert.match(
    String(victim.headers["set-cookie"]),
    /^warren_device_confirm=[\w-]{32}; .*HttpOnly; SameSite=Strict$/,
  );
  const token = /name="confirm" value="([^"]+)"/.exec(victim.body)![1]!;

  // Confirming without that page's cookie (a link or form on another site, another browser) is refused.
  const attacker = await v.app.inject({
    method: "GET",
    url: `/api/v1/auth/device/verify?user_code=${d.user_code}`,
  });
  const attackerToken = /name="confirm" value="([^"]+)"/.exec(attacker.body)![1]!;
  for (const [confirm, cookie] of [
    [token, undefined],
    [attackerToken, cookiesFrom(victim)],
  ] as const) {
    const r = await v.app.inject({
      method: "GET",
      url: `/api/v1/auth/device/verify?user_code=${d.user_code}&confirm=${confirm}`,
      headers: cookie ? { cookie } : {},
    });
    assert.equal(r.statusCode, 401, r.body);
    assert.match(
      (r.json() as ErrorBody).message,
      /did not come from the confirmation page shown in this browser/,
    );
  }
  assert.equal(await rows(v, "oidc_flows"), 0, "nothing was started");

  // Confirmed in its own browser: on to the provider; the redirect back needs that browser too.
  const go = await confirmDevice(v.app, d.user_code);
  assert.ok(go.loc.startsWith(v.issuer), go.loc);
  const back = pathOf(await browse(go.loc, "bob"));
  const elsewhere = await v.app.inject({ method: "GET", url: back, headers: json });
  assert.equal(elsewhere.statusCode, 401, elsewhere.body);
  assert.equal(await pending(), "authorization_pending", "not approved by another browser");
  const done = await v.app.inject({ method: "GET", url: back, headers: { cookie: go.cookie } });
  assert.equal(done.statusCode, 200, done.body);
  assert.match(done.body, /return to your terminal/);
  v.advance(6000); // past the poll interval
  assert.equal(await pending(), "complete");
});
