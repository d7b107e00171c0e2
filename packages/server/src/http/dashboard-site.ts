// The dashboard's side of the control-plane host (ingress/control-host.ts): everything that is not
// the API. Its built files (packages/dashboard/dist, or WARREN_DASHBOARD_DIR), with a fallback to
// index.html for the single-page app's own paths; a one-time sign-in link's landing
// (/auth/redeem?code=…, which sets the session cookie and redirects to `/` so no code stays in
// the address bar or history); and /auth/oidc, which starts an OIDC sign-in where one is set up.
//
// It is a Fastify instance of its own, never listening: control-host.ts hands it requests with
// `routing`. Apart from the API's app on purpose, so that its catch-all route enters neither the
// API's OpenAPI document nor its authorization matrix. Files are sent by hand rather than with
// @fastify/static, which follows symlinks out of its root and answers `..` on its own terms.
//
// Every answer carries a strict CSP (scripts and connections to this origin only, no framing) and
// nosniff. Hashed files under assets/ are cached for a year; index.html never is, so a new build
// is picked up at the next load.
import { createReadStream } from "node:fs";
import { realpath, stat } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import type { DashboardSessions } from "../ingress/dashboard-sessions.ts";
import { type ProxyPage, renderPage } from "../ingress/http-proxy-pages.ts";
import { SESSION_TTL_MS } from "../ingress/port-sessions.ts";
import type { Logger } from "../logger.ts";
import { dashboardCookie, schemeOf } from "./dashboard-auth.ts";

export const REDEEM_PATH = "/auth/redeem";
export const OIDC_PATH = "/auth/oidc";

export const DASHBOARD_CSP =
  "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; " +
  "frame-ancestors 'none'";

const SECURITY_HEADERS = {
  "content-security-policy": DASHBOARD_CSP,
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "same-origin",
};

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".map": "application/json",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".webp": "image/webp",
  ".woff2": "font/woff2",
  ".woff": "font/woff",
  ".txt": "text/plain; charset=utf-8",
  ".webmanifest": "application/manifest+json",
};

const NOT_BUILT: ProxyPage = {
  status: 503,
  title: "The dashboard is not built",
  message:
    "This server has no built dashboard to serve: run scripts/setup.sh (it runs `npm run build -w @warren/dashboard`), " +
    "or point WARREN_DASHBOARD_DIR at a built dashboard/dist directory, then reload.",
};

/** Where the built dashboard lives: WARREN_DASHBOARD_DIR, else the @warren/dashboard package's dist/. */
export function defaultDashboardDir(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env["WARREN_DASHBOARD_DIR"];
  if (fromEnv) return path.resolve(fromEnv);
  try {
    // Through node_modules, so a bundled daemon (whose file sits elsewhere) finds it too.
    const pkg = createRequire(import.meta.url).resolve("@warren/dashboard/package.json");
    return path.join(path.dirname(pkg), "dist");
  } catch {
    return fileURLToPath(new URL("../../../dashboard/dist", import.meta.url));
  }
}

export interface DashboardSiteOptions {
  sessions: DashboardSessions;
  /** The built files; default defaultDashboardDir(). */
  dir?: string | undefined;
  /** Where /auth/oidc sends the browser (the control plane's OIDC start); undefined: not configured. */
  oidcStartUrl?: (() => string | undefined) | undefined;
  logger: Logger;
}

/** The dashboard's own Fastify instance; `await site.ready()` once, then `site.routing(req, res)`. */
export function createDashboardSite(o: DashboardSiteOptions): FastifyInstance {
  const dir = path.resolve(o.dir ?? defaultDashboardDir());
  // Whatever the router makes of a path (a bad escape, an overlong segment), the answer is ours.
  const site = Fastify({ frameworkErrors: (_err, req, reply) => void dispatch(req, reply) });
  // Never read a body: every page here is read with GET, and anything else gets a 405 first.
  site.removeAllContentTypeParsers();
  site.addContentTypeParser("*", (_req, _payload, done) => done(null));
  site.addHook("onRequest", async (req, reply) => {
    if (req.method !== "GET" && req.method !== "HEAD") return notAllowed(reply);
  });
  site.route({ method: ["GET", "HEAD"], url: REDEEM_PATH, handler: (req, reply) => redeem(req, reply) });
  site.route({ method: ["GET", "HEAD"], url: OIDC_PATH, handler: (_req, reply) => oidc(reply) });
  site.route({ method: ["GET", "HEAD"], url: "/*", handler: (req, reply) => dispatch(req, reply) });
  site.setNotFoundHandler((req, reply) => dispatch(req, reply));
  site.setErrorHandler((err, req, reply) => {
    o.logger.warn({ err, url: pathOf(req) }, "serving a dashboard file failed");
    return page(reply, {
      status: 500,
      title: "Dashboard error",
      message: "Serving this file failed; see the server log.",
    });
  });

  function dispatch(req: FastifyRequest, reply: FastifyReply): FastifyReply | Promise<FastifyReply> {
    if (req.method !== "GET" && req.method !== "HEAD") return notAllowed(reply);
    const pathname = pathOf(req);
    if (pathname.startsWith("/api/")) {
      // Only /api/v1 is the control plane's here (control-host.ts); runners dial the API listener.
      return page(reply, {
        status: 404,
        title: "Not found",
        message: `${pathname} is not served on this host.`,
      });
    }
    if (pathname === REDEEM_PATH) return redeem(req, reply);
    if (pathname === OIDC_PATH) return oidc(reply);
    return file(req, reply, pathname);
  }

  function redeem(req: FastifyRequest, reply: FastifyReply): FastifyReply {
    const code = urlOf(req).searchParams.get("code") ?? "";
    const r = code
      ? o.sessions.exchange(code, req.headers.host ?? "")
      : { ok: false as const, reason: "the link has no code" };
    if (!r.ok) {
      return page(reply, {
        status: 400,
        title: "Sign-in link not accepted",
        message: `${r.reason}. Run \`warren dashboard\` for a new link, or sign in with a token.`,
      });
    }
    return reply
      .code(303)
      .headers({
        ...SECURITY_HEADERS,
        location: "/",
        "set-cookie": dashboardCookie(r.session.id, Math.floor(SESSION_TTL_MS / 1000), schemeOf(req.raw)),
        "cache-control": "no-store",
        "referrer-policy": "no-referrer",
        "content-length": 0,
      })
      .send();
  }

  function oidc(reply: FastifyReply): FastifyReply {
    const to = o.oidcStartUrl?.();
    if (!to)
      return page(reply, {
        status: 404,
        title: "OIDC sign-in is not configured",
        message:
          "This server has no OIDC sign-in; sign in with a token, or run `warren dashboard` for a link.",
      });
    return reply
      .code(302)
      .headers({ ...SECURITY_HEADERS, location: to, "cache-control": "no-store", "content-length": 0 })
      .send();
  }

  async function file(req: FastifyRequest, reply: FastifyReply, pathname: string): Promise<FastifyReply> {
    let rel: string;
    try {
      rel = decodeURIComponent(pathname);
    } catch {
      return page(reply, {
        status: 400,
        title: "Bad path",
        message: "The path is not valid percent-encoding.",
      });
    }
    if (rel.includes("\0") || rel.split("/").includes(".."))
      return page(reply, {
        status: 400,
        title: "Bad path",
        message: "The path may not contain `..` or NUL.",
      });
    const index = path.join(dir, "index.html");
    let target = path.join(dir, path.posix.normalize(rel));
    let found = await regularFile(target, dir);
    if (!found) {
      // An address of the app itself (/envs/dev) gets the app; a missing file (/assets/x.js) a 404.
      if (path.posix.extname(rel) !== "") {
        const built = await regularFile(index, dir);
        return page(reply, built ? fileNotFound(rel) : NOT_BUILT);
      }
      target = index;
      found = await regularFile(index, dir);
      if (!found) return page(reply, NOT_BUILT);
    }
    const isIndex = target === index || path.basename(target) === "index.html";
    const immutable = path.relative(dir, target).startsWith(`assets${path.sep}`);
    reply.code(200).headers({
      ...SECURITY_HEADERS,
      "content-type": TYPES[path.extname(target).toLowerCase()] ?? "application/octet-stream",
      "content-length": found.size,
      "cache-control": isIndex ? "no-store" : immutable ? "public, max-age=31536000, immutable" : "no-cache",
    });
    // HEAD: the headers only (Fastify keeps the content-length given here).
    return req.method === "HEAD" ? reply.send() : reply.send(createReadStream(found.path));
  }

  return site;
}

const pageHeaders = (extra: Record<string, string>) => ({
  "content-type": "text/html; charset=utf-8",
  "cache-control": "no-store",
  ...SECURITY_HEADERS,
  "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
  ...extra,
});

function page(reply: FastifyReply, p: ProxyPage, extra: Record<string, string> = {}): FastifyReply {
  return reply.code(p.status).headers(pageHeaders(extra)).send(renderPage(p));
}

const notAllowed = (reply: FastifyReply): FastifyReply =>
  page(
    reply,
    { status: 405, title: "Method not allowed", message: "The dashboard's pages are read with GET." },
    { allow: "GET, HEAD" },
  );

const urlOf = (req: FastifyRequest): URL => new URL(req.raw.url ?? "/", "http://dashboard.invalid");
const pathOf = (req: FastifyRequest): string => urlOf(req).pathname;

/** The file's real path and size if it is a regular file inside `dir` (no symlink out of it). */
async function regularFile(p: string, dir: string): Promise<{ path: string; size: number } | undefined> {
  try {
    const real = await realpath(p);
    const root = await realpath(dir);
    if (real !== root && !real.startsWith(root + path.sep)) return undefined;
    const st = await stat(real);
    return st.isFile() ? { path: real, size: st.size } : undefined;
  } catch {
    return undefined;
  }
}

const fileNotFound = (rel: string): ProxyPage => ({
  status: 404,
  title: "Not found",
  message: `The dashboard has no file ${rel}.`,
});
