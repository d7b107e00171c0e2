// Waking a stopped environment for a request through the port proxy (the proxy has already
// decided that the visitor is signed in and may start it):
// - a browser navigating (GET or HEAD accepting text/html) gets a small "starting ENV…" page that
//   reloads itself every 2 s while the start runs in the background, so no tab hangs on a blank
//   page; once the environment runs, the reload is proxied as usual (a start that finishes within
//   half a second is forwarded at once, without the page); a failed start shows its reason once;
// - any other request (curl, fetch, a form POST whose body a reload would lose) is held until
//   the environment runs, then forwarded, or answered 504 after the timeout (default 60 s) with
//   a message saying what happened and what to do;
// - held requests are capped per environment (default 32), so a burst cannot pin unbounded
//   sockets and memory on one sleeping environment: over the cap the answer is 503 with
//   Retry-After.
// Anonymous visitors of a public port never wake anything: they get asleepPage().
import type { IncomingMessage, ServerResponse } from "node:http";
import { isWarrenError } from "@warren/protocol";

export interface HoldOptions {
  /** How long a held request waits for the environment; default 60 s. */
  timeoutMs?: number;
  /** Held requests per environment; default 32. */
  maxHeld?: number;
  /** A browser's start that finishes within this long is forwarded, not paged; default 500 ms. */
  pageAfterMs?: number;
  /** Whether to answer with the "starting…" page; default: from `req` (a GET/HEAD accepting HTML). */
  acceptsHtml?: boolean;
  req?: IncomingMessage;
}

export const WAKE_HOLD_TIMEOUT_MS = 60_000;
export const MAX_HELD_PER_ENV = 32;
/** How often the "starting…" page reloads itself. */
const REFRESH_SECONDS = 2;
/** A background start's failure is shown to the next reload within this long, then forgotten. */
const FAILURE_SHOWN_MS = 30_000;

interface Waking {
  done: boolean;
  /** Resolves true once it runs, false when the start failed. */
  ready: Promise<boolean>;
  error?: string;
  settledAt?: number;
}

const held = new Map<string, number>();
const waking = new Map<string, Waking>();

/** A browser navigation that a reload can repeat: GET or HEAD asking for HTML. */
export function isBrowserNavigation(req: IncomingMessage): boolean {
  const method = req.method ?? "GET";
  return (method === "GET" || method === "HEAD") && /\btext\/html\b/i.test(String(req.headers.accept ?? ""));
}

/**
 * Starts `env` for this request. True: it runs now and the caller forwards the request. False:
 * the response was answered (the "starting…" page, 504 after the timeout, 503 over the cap).
 */
export async function holdForWake(
  res: ServerResponse,
  env: { id: string; name: string },
  wake: (signal: AbortSignal) => Promise<unknown>,
  opts: HoldOptions = {},
): Promise<boolean> {
  const timeoutMs = opts.timeoutMs ?? WAKE_HOLD_TIMEOUT_MS;
  const html = opts.acceptsHtml ?? (opts.req ? isBrowserNavigation(opts.req) : false);
  if (html) {
    const w = wakeInBackground(env, wake, timeoutMs);
    if (typeof w === "string") {
      startingPage(res, env, w);
      return false;
    }
    // Running already, or a quick start: no page flash, the app itself answers.
    let timer: NodeJS.Timeout | undefined;
    const soon = await Promise.race([
      w.ready,
      new Promise<false>((r) => {
        timer = setTimeout(() => r(false), opts.pageAfterMs ?? 500);
      }),
    ]);
    clearTimeout(timer);
    if (soon && !res.destroyed) return true;
    startingPage(res, env, undefined);
    return false;
  }
  const maxHeld = opts.maxHeld ?? MAX_HELD_PER_ENV;
  const n = held.get(env.id) ?? 0;
  if (n >= maxHeld) {
    text(
      res,
      503,
      `warren: ${env.name} is starting and ${n} requests already wait for it; retry in a few seconds\n`,
      { "retry-after": "5" },
    );
    return false;
  }
  held.set(env.id, n + 1);
  const ac = new AbortController();
  const gone = () => ac.abort(new Error("the client went away"));
  res.once("close", gone);
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), timeoutMs);
  });
  try {
    const outcome = await Promise.race([wake(ac.signal).then(() => "ready" as const), timedOut]);
    if (outcome === "ready") return !res.destroyed;
    ac.abort(new Error("timed out"));
    text(res, 504, notReady(env.name, timeoutMs));
    return false;
  } catch (err) {
    if (res.destroyed) return false;
    if (isWarrenError(err) && err.code === "TIMEOUT") text(res, 504, notReady(env.name, timeoutMs));
    else text(res, 503, `warren: ${env.name} could not be started: ${messageOf(err)}\n`);
    return false;
  } finally {
    clearTimeout(timer);
    res.off("close", gone);
    const left = (held.get(env.id) ?? 1) - 1;
    if (left <= 0) held.delete(env.id);
    else held.set(env.id, left);
  }
}

/** Requests held now for `envId` (tests, metrics). */
export function heldRequests(envId: string): number {
  return held.get(envId) ?? 0;
}

/**
 * One background start per environment, shared by every reload of every tab. Returns the failure
 * of the last start when it failed recently (shown once), else the start in progress.
 */
function wakeInBackground(
  env: { id: string; name: string },
  wake: (signal: AbortSignal) => Promise<unknown>,
  timeoutMs: number,
): Waking | string {
  const cur = waking.get(env.id);
  if (cur && !cur.done) return cur;
  if (cur?.error !== undefined && Date.now() - (cur.settledAt ?? 0) < FAILURE_SHOWN_MS) {
    waking.delete(env.id);
    return cur.error;
  }
  const w = { done: false } as Waking;
  waking.set(env.id, w);
  w.ready = wake(AbortSignal.timeout(timeoutMs)).then(
    () => {
      w.done = true;
      if (waking.get(env.id) === w) waking.delete(env.id);
      return true;
    },
    (err: unknown) => {
      w.done = true;
      w.settledAt = Date.now();
      w.error =
        isWarrenError(err) && err.code === "TIMEOUT"
          ? `it did not start within ${Math.round(timeoutMs / 1000)} s`
          : messageOf(err);
      return false;
    },
  );
  return w;
}

function notReady(name: string, timeoutMs: number): string {
  const s = Math.round(timeoutMs / 1000);
  return `warren: ${name} did not become ready within ${s} s; it keeps starting in the background: retry shortly, or see \`warren logs ${name}\`\n`;
}

function messageOf(err: unknown): string {
  if (isWarrenError(err)) return err.message;
  return "the start failed; see the server's log";
}

function text(res: ServerResponse, status: number, body: string, extra: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, {
    "content-type": "text/plain; charset=utf-8",
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
    "content-length": Buffer.byteLength(body),
    ...extra,
  });
  res.end(body);
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(res: ServerResponse, status: number, title: string, message: string, refresh: boolean): void {
  if (res.headersSent || res.destroyed) return;
  const body = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
${refresh ? `<meta http-equiv="refresh" content="${REFRESH_SECONDS}">\n` : ""}<title>${escapeHtml(title)}</title></head>
<body style="font-family:system-ui,sans-serif;max-width:40em;margin:4em auto;padding:0 1em">
<h1>${escapeHtml(title)}</h1>
<p>${escapeHtml(message)}</p>
<p style="color:#666">${status} · Warren port proxy</p>
</body></html>
`;
  res.writeHead(status, {
    "content-type": "text/html; charset=utf-8",
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
    // A page on the app's origin: it runs no script and loads nothing.
    "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'",
    "referrer-policy": "no-referrer",
    ...(refresh ? { "retry-after": String(REFRESH_SECONDS) } : {}),
    "content-length": Buffer.byteLength(body),
  });
  res.end(body);
}

function startingPage(res: ServerResponse, env: { name: string }, failed: string | undefined): void {
  if (failed !== undefined) {
    page(res, 504, `${env.name} did not start`, `${env.name}: ${failed}. Reload to try again.`, false);
    return;
  }
  page(
    res,
    503,
    `Starting ${env.name}…`,
    `${env.name} was asleep and is starting now. This page reloads every ${REFRESH_SECONDS} seconds and shows the app once it runs.`,
    true,
  );
}

/** For an anonymous visit to a public port of a stopped environment: it stays asleep. */
export function asleepPage(res: ServerResponse, env: { name: string }, acceptsHtml = true): void {
  const message = `${env.name} is asleep (stopped after a while without use). Anonymous visits do not start it; someone it is shared with can, by signing in and visiting, or with \`warren start ${env.name}\`.`;
  if (acceptsHtml) page(res, 503, `${env.name} is asleep`, message, false);
  else text(res, 503, `warren: ${message}\n`);
}
