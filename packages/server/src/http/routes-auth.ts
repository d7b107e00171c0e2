// Sign-in routes (services/oidc.ts): the OIDC browser flow and Warren's device-code flow. They are
// public (http/auth.ts): the caller has no Warren token yet, which is the point. A browser flow is
// bound to its browser by a cookie, and a device code is approved only after the person confirmed
// it on a page naming who asked (signin-cookies.ts says how each cookie works).
import { type Static, Type } from "@sinclair/typebox";
import { API_PREFIX, WarrenError } from "@warren/protocol";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { PortSignIn } from "../ingress/port-signin.ts";
import {
  type DashboardFlowResult,
  type DeviceRequest,
  FLOW_TTL_MS,
  type OidcService,
} from "../services/oidc.ts";
import { sourceOf } from "./audit-hook.ts";
import { carriesSecrets } from "./idempotency.ts";
import { landOnPort, portOidcRoutes } from "./routes-port-oidc.ts";
import { errors, orHtml } from "./schemas-response.ts";
import {
  CONFIRM_COOKIE,
  clearCookie,
  flowCookieName,
  newConfirmToken,
  readCookie,
  setCookie,
  tokensMatch,
} from "./signin-cookies.ts";

export const AUTH_PREFIX = `${API_PREFIX}/auth/`;

const StartQuery = Type.Object({ user_code: Type.Optional(Type.String({ maxLength: 20 })) });
type StartQuery = Static<typeof StartQuery>;
const VerifyQuery = Type.Object({
  user_code: Type.Optional(Type.String({ maxLength: 20 })),
  confirm: Type.Optional(Type.String({ maxLength: 100 })),
});
type VerifyQuery = Static<typeof VerifyQuery>;
const CallbackQuery = Type.Object({
  code: Type.Optional(Type.String({ maxLength: 4096 })),
  state: Type.Optional(Type.String({ maxLength: 200 })),
  error: Type.Optional(Type.String({ maxLength: 200 })),
  error_description: Type.Optional(Type.String({ maxLength: 1000 })),
  iss: Type.Optional(Type.String({ maxLength: 1000 })),
});
type CallbackQuery = Static<typeof CallbackQuery>;
const DeviceBody = Type.Object({}, { additionalProperties: false });
const PollBody = Type.Object(
  { device_code: Type.String({ minLength: 1, maxLength: 200 }) },
  { additionalProperties: false },
);
type PollBody = Static<typeof PollBody>;

const DeviceCode = Type.Object({
  device_code: Type.String({ description: "Secret; the terminal polls with it." }),
  user_code: Type.String({ description: "What the person types on the verification page." }),
  verification_uri: Type.String(),
  verification_uri_complete: Type.String(),
  interval: Type.Integer({ description: "Seconds between polls." }),
  expires_in: Type.Integer(),
});
const DeviceToken = Type.Union([
  Type.Object({ status: Type.Literal("authorization_pending"), interval: Type.Integer() }),
  Type.Object({ status: Type.Literal("slow_down"), interval: Type.Integer() }),
  Type.Object({ status: Type.Literal("complete"), token: Type.String(), expiresAt: Type.String() }),
]);
const SignIn = Type.Object({
  token: Type.String({ description: "A Warren token (wrn_...), shown only in this response." }),
  expiresAt: Type.String(),
  user: Type.String(),
  org: Type.String(),
  role: Type.Union([Type.Literal("owner"), Type.Literal("admin"), Type.Literal("member")]),
});
const Html = (description: string) => ({ description, content: { "text/html": { schema: Type.String() } } });
const doc = (operationId: string, summary: string) => ({ operationId, tags: ["auth"], summary });

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const page = (title: string, body: string) =>
  `<!doctype html><html><head><meta charset="utf-8"><title>${esc(title)}</title></head>` +
  `<body style="font-family:sans-serif;max-width:40em;margin:3em auto"><h1>${esc(title)}</h1>${body}</body></html>`;

const wantsJson = (req: FastifyRequest) => (req.headers.accept ?? "").includes("application/json");
const VERIFY_PATH = `${API_PREFIX}/auth/device/verify`;
const FLOW_COOKIE_S = FLOW_TTL_MS / 1000;

/** The page that names the terminal before anything goes to the identity provider. */
function confirmPage(d: DeviceRequest, token: string): string {
  const row = (k: string, v: string) =>
    `<tr><th style="text-align:left;padding-right:1em">${k}</th><td>${v}</td></tr>`;
  return page(
    "Approve a terminal's sign-in?",
    "<p>A terminal asked to sign in to Warren as you. Continue only if you started this yourself, at that terminal, just now.</p>" +
      "<table>" +
      row("Code", `<code>${esc(d.userCode)}</code> (your terminal shows the same)`) +
      row("Client", esc(d.client ?? "(not stated)")) +
      row("Requested from", esc(d.requestedFrom ?? "(unknown)")) +
      row("Requested at", esc(d.createdAt)) +
      "</table>" +
      `<form method="get" action="${VERIFY_PATH}"><input type="hidden" name="user_code" value="${esc(d.userCode)}">` +
      `<input type="hidden" name="confirm" value="${esc(token)}">` +
      `<p><button type="submit">Sign in and approve this terminal</button></p></form>` +
      "<p>If you did not start this, close this page: nothing has been sent anywhere yet.</p>",
  );
}
export function authRoutes(
  app: FastifyInstance,
  oidc: OidcService | undefined,
  portSignIn?: PortSignIn | undefined,
  /** Where a sign-in started at the dashboard ends (dashboard-oidc.ts landOnDashboard). */
  landOnDashboard?: ((reply: FastifyReply, r: DashboardFlowResult) => FastifyReply) | undefined,
): void {
  portOidcRoutes(app, oidc);
  const svc = (): OidcService => {
    if (!oidc)
      throw new WarrenError(
        "INVALID_ARGUMENT",
        "OIDC sign-in is not configured on this server; set WARREN_OIDC_ISSUER and the other WARREN_OIDC_* variables",
      );
    return oidc;
  };
  const noStore = (reply: FastifyReply) => reply.header("cache-control", "no-store");
  /** Starts a browser flow and gives this browser the cookie that alone may finish it. */
  const startFlow = async (reply: FastifyReply, userCode?: string) => {
    const o = svc();
    const f = await o.start(userCode);
    const scope = o.callbackScope();
    setCookie(reply, flowCookieName(f.state), f.binding, {
      ...scope,
      maxAgeS: FLOW_COOKIE_S,
      sameSite: "Lax",
    });
    return noStore(reply).redirect(f.url, 302);
  };

  app.get<{ Querystring: StartQuery }>(
    `${API_PREFIX}/auth/oidc/start`,
    {
      schema: {
        ...doc(
          "oidcStart",
          "Start a browser sign-in: redirects to the identity provider (PKCE, state, nonce), with a " +
            "cookie binding the sign-in to this browser. With user_code, redirects to the device " +
            "code's confirmation page instead.",
        ),
        querystring: StartQuery,
        response: {
          302: Type.Null({ description: "Redirect to the identity provider, or to the confirmation page" }),
          ...errors("INVALID_ARGUMENT"),
        },
      },
    },
    async (req, reply) => {
      const code = req.query.user_code;
      // A device code is approved only through its confirmation page, never by a bare link.
      if (code) return noStore(reply).redirect(`${VERIFY_PATH}?user_code=${encodeURIComponent(code)}`, 302);
      return startFlow(reply);
    },
  );

  app.get<{ Querystring: CallbackQuery }>(
    `${API_PREFIX}/auth/oidc/callback`,
    {
      schema: {
        ...doc(
          "oidcCallback",
          "The identity provider's redirect: verifies the sign-in and issues a Warren token.",
        ),
        querystring: CallbackQuery,
        response: {
          200: {
            description: "JSON with Accept: application/json, else an HTML page",
            content: { "application/json": { schema: SignIn }, "text/html": { schema: Type.String() } },
          },
          302: Type.Null({
            description: "A sign-in started at a port URL or at the dashboard: redirect to its one-time link",
          }),
          // A browser (no Accept: application/json) gets a refusal as an HTML page.
          ...orHtml(errors("INVALID_ARGUMENT", "UNAUTHENTICATED")),
        },
      },
    },
    async (req, reply) => {
      noStore(reply);
      let r: Awaited<ReturnType<OidcService["callback"]>>;
      const state = req.query.state;
      const cookie = state ? flowCookieName(state) : undefined;
      try {
        const binding = cookie ? readCookie(req, cookie) : undefined;
        r = await svc().callback(req.query, sourceOf(req), binding);
        if (cookie) clearCookie(reply, cookie, { ...svc().callbackScope(), sameSite: "Lax" });
      } catch (err) {
        if (wantsJson(req) || !(err instanceof WarrenError)) throw err;
        return reply
          .status(err.status)
          .type("text/html; charset=utf-8")
          .send(page("Sign-in refused", `<p>${esc(err.message)}</p>`));
      }
      if (r.port) return landOnPort(reply, portSignIn, r);
      if (r.dashboard) {
        if (!landOnDashboard)
          throw new WarrenError(
            "INVALID_ARGUMENT",
            "this server serves no dashboard; start the daemon with --http-listen HOST:PORT",
          );
        return landOnDashboard(reply, r);
      }
      if (r.device) {
        // The terminal's poll mints the token, so neither it nor its expiry exists yet.
        const { device: _, ...who } = r;
        if (wantsJson(req))
          return {
            ...who,
            token: "(delivered to the terminal)",
            expiresAt: "(set when the terminal collects it)",
          };
        return reply
          .type("text/html; charset=utf-8")
          .send(
            page(
              "Signed in",
              `<p>Signed in as ${esc(r.user)} (${esc(r.role)} in ${esc(r.org)}). You can close this page and return to your terminal.</p>`,
            ),
          );
      }
      const { device: _, ...body } = r;
      if (wantsJson(req)) return body;
      return reply
        .type("text/html; charset=utf-8")
        .send(
          page(
            "Signed in",
            `<p>Signed in as ${esc(r.user)} (${esc(r.role)} in ${esc(r.org)}). Your Warren token, shown once, expires ${esc(r.expiresAt)}:</p>` +
              `<pre>${esc(r.token)}</pre><p>Use it with <code>warren login URL --fingerprint F --token-stdin</code>.</p>`,
          ),
        );
    },
  );

  app.post(
    `${API_PREFIX}/auth/device`,
    {
      schema: {
        ...doc("deviceCode", "Start a device-code sign-in for a terminal without a browser."),
        body: Type.Optional(DeviceBody),
        response: { 200: DeviceCode, ...errors("INVALID_ARGUMENT", "SECRET_SHOWN_ONCE") },
      },
      config: carriesSecrets("device_code"),
    },
    async (req, reply) =>
      noStore(reply).send(
        await svc().createDeviceCode({ client: req.headers["user-agent"], source: sourceOf(req) }),
      ),
  );

  app.post<{ Body: PollBody }>(
    `${API_PREFIX}/auth/device/token`,
    {
      schema: {
        ...doc(
          "deviceToken",
          "Poll a device code: authorization_pending, slow_down, or the Warren token (once).",
        ),
        body: PollBody,
        response: { 200: DeviceToken, ...errors("INVALID_ARGUMENT", "SECRET_SHOWN_ONCE") },
      },
      config: carriesSecrets("token"),
    },
    async (req, reply) => noStore(reply).send(await svc().pollDeviceCode(req.body.device_code)),
  );

  app.get<{ Querystring: VerifyQuery }>(
    VERIFY_PATH,
    {
      schema: {
        ...doc(
          "deviceVerify",
          "The page a person opens for a device code: asks for the code, shows which terminal " +
            "asked (code, client, address) for confirmation, then signs in.",
        ),
        querystring: VerifyQuery,
        response: {
          200: Html("A form asking for the code, or the confirmation page naming the terminal"),
          302: Type.Null({ description: "Redirect to the identity provider, once confirmed" }),
          ...errors("INVALID_ARGUMENT", "UNAUTHENTICATED"),
        },
      },
    },
    async (req, reply) => {
      noStore(reply);
      // The confirmation is a button on this page: it must not work inside another site's frame.
      reply.header("x-frame-options", "DENY").header("content-security-policy", "frame-ancestors 'none'");
      reply.header("referrer-policy", "no-referrer");
      const { user_code: code, confirm } = req.query;
      const confirmScope = {
        path: VERIFY_PATH,
        secure: svc().callbackScope().secure,
        sameSite: "Strict" as const,
      };
      if (code && confirm !== undefined) {
        if (!tokensMatch(confirm, readCookie(req, CONFIRM_COOKIE)))
          throw new WarrenError(
            "UNAUTHENTICATED",
            "sign-in refused: this approval did not come from the confirmation page shown in this browser; " +
              "open the verification link your terminal printed and confirm there",
          );
        clearCookie(reply, CONFIRM_COOKIE, confirmScope);
        return startFlow(reply, code);
      }
      if (code) {
        const d = await svc().describeDeviceCode(code);
        const token = newConfirmToken();
        setCookie(reply, CONFIRM_COOKIE, token, { ...confirmScope, maxAgeS: FLOW_COOKIE_S });
        return reply.type("text/html; charset=utf-8").send(confirmPage(d, token));
      }
      svc();
      return reply
        .type("text/html; charset=utf-8")
        .send(
          page(
            "Sign in to Warren",
            `<form method="get" action="${API_PREFIX}/auth/device/verify"><p>Enter the code shown in your terminal:</p>` +
              `<input name="user_code" autocomplete="off" autofocus placeholder="ABCD-EFGH"> <button type="submit">Continue</button></form>`,
          ),
        );
    },
  );
}
