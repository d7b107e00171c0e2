// Sign-in routes (services/oidc.ts): the OIDC browser flow and Warren's device-code flow. They are
// public (http/auth.ts): the caller has no Warren token yet, which is the point.
import { type Static, Type } from "@sinclair/typebox";
import { API_PREFIX, WarrenError } from "@warren/protocol";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { OidcService } from "../services/oidc.ts";
import { sourceOf } from "./audit-hook.ts";
import { errors, orHtml } from "./schemas-response.ts";

export const AUTH_PREFIX = `${API_PREFIX}/auth/`;

const StartQuery = Type.Object({ user_code: Type.Optional(Type.String({ maxLength: 20 })) });
type StartQuery = Static<typeof StartQuery>;
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

export function authRoutes(app: FastifyInstance, oidc: OidcService | undefined): void {
  const svc = (): OidcService => {
    if (!oidc)
      throw new WarrenError(
        "INVALID_ARGUMENT",
        "OIDC sign-in is not configured on this server; set WARREN_OIDC_ISSUER and the other WARREN_OIDC_* variables",
      );
    return oidc;
  };
  const noStore = (reply: FastifyReply) => reply.header("cache-control", "no-store");

  app.get<{ Querystring: StartQuery }>(
    `${API_PREFIX}/auth/oidc/start`,
    {
      schema: {
        ...doc(
          "oidcStart",
          "Start a browser sign-in: redirects to the identity provider (PKCE, state, nonce).",
        ),
        querystring: StartQuery,
        response: {
          302: Type.Null({ description: "Redirect to the identity provider" }),
          ...errors("INVALID_ARGUMENT"),
        },
      },
    },
    async (req, reply) => {
      const url = await svc().start(req.query.user_code || undefined);
      return noStore(reply).redirect(url, 302);
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
          // A browser (no Accept: application/json) gets a refusal as an HTML page.
          ...orHtml(errors("INVALID_ARGUMENT", "UNAUTHENTICATED")),
        },
      },
    },
    async (req, reply) => {
      noStore(reply);
      let r: Awaited<ReturnType<OidcService["callback"]>>;
      try {
        r = await svc().callback(req.query, sourceOf(req));
      } catch (err) {
        if (wantsJson(req) || !(err instanceof WarrenError)) throw err;
        return reply
          .status(err.status)
          .type("text/html; charset=utf-8")
          .send(page("Sign-in refused", `<p>${esc(err.message)}</p>`));
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
        response: { 200: DeviceCode, ...errors("INVALID_ARGUMENT") },
      },
    },
    async (_req, reply) => noStore(reply).send(await svc().createDeviceCode()),
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
        response: { 200: DeviceToken, ...errors("INVALID_ARGUMENT") },
      },
    },
    async (req, reply) => noStore(reply).send(await svc().pollDeviceCode(req.body.device_code)),
  );

  app.get<{ Querystring: StartQuery }>(
    `${API_PREFIX}/auth/device/verify`,
    {
      schema: {
        ...doc(
          "deviceVerify",
          "The page a person opens for a device code: asks for the code, then signs in.",
        ),
        querystring: StartQuery,
        response: {
          200: Html("A form asking for the code"),
          302: Type.Null({ description: "Redirect to the identity provider" }),
          ...errors("INVALID_ARGUMENT"),
        },
      },
    },
    async (req, reply) => {
      noStore(reply);
      const code = req.query.user_code;
      if (code) return reply.redirect(await svc().start(code), 302);
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
