// The port proxy's own answers: small HTML pages, one per outcome, each saying what happened and
// what to do. They are served on the app's origin, so they run no script, load nothing, and are
// never cached. The "not found" page is one constant: an unknown environment, one the visitor
// may not see, and an unknown port must be indistinguishable.
import type { ServerResponse } from "node:http";
import type { Duplex } from "node:stream";

export interface ProxyPage {
  status: number;
  title: string;
  message: string;
}

const REASONS: Record<number, string> = {
  400: "Bad Request",
  403: "Forbidden",
  404: "Not Found",
  413: "Content Too Large",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
};

export const NOT_FOUND_PAGE: ProxyPage = {
  status: 404,
  title: "No such port URL",
  message:
    "Nothing is shared at this address, or you may not see it. Check the URL with `warren port ls ENV`, " +
    "and that you are signed in as someone the port is shared with.",
};

export function badHostPage(message: string): ProxyPage {
  return { status: 400, title: "Bad Host header", message };
}

export function nothingListensPage(port: number, envName: string): ProxyPage {
  return {
    status: 502,
    title: "Nothing listens on this port",
    message: `Nothing listens on port ${port} inside ${envName}. Start the app there (listening on 127.0.0.1 or 0.0.0.0), then reload.`,
  };
}

export function upstreamFailedPage(port: number, envName: string, why: string): ProxyPage {
  return {
    status: 502,
    title: "The app did not answer",
    message: `The connection to port ${port} inside ${envName} failed: ${why}.`,
  };
}

export function publicForbiddenPage(): ProxyPage {
  return {
    status: 403,
    title: "Public ports are not allowed",
    message:
      "This port is public, but its organisation's policy forbids public ports. An admin allows them with " +
      "`warren quota set --public-ports allow`, or the owner makes the port private or org with " +
      "`warren port set ENV PORT --visibility org`.",
  };
}

export function asleepPage(envName: string): ProxyPage {
  return {
    status: 503,
    title: "This environment is asleep",
    message: `${envName} is stopped. Anonymous visits do not start it; someone it is shared with can, by signing in and visiting, or with \`warren start ${envName}\`.`,
  };
}

export function wakeFailedPage(envName: string, why: string): ProxyPage {
  return { status: 504, title: "The environment did not start", message: `${envName}: ${why}` };
}

export function deniedPage(status: 403 | 404, message: string): ProxyPage {
  return status === 404 ? NOT_FOUND_PAGE : { status, title: "Forbidden", message };
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A page's HTML (for a responder that sends it itself, such as a Fastify reply). */
export function renderPage(p: ProxyPage): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>${escapeHtml(p.title)}</title></head>
<body style="font-family:system-ui,sans-serif;max-width:40em;margin:4em auto;padding:0 1em">
<h1>${escapeHtml(p.title)}</h1>
<p>${escapeHtml(p.message)}</p>
<p style="color:#666">${p.status} · Warren port proxy</p>
</body></html>
`;
}

const PAGE_HEADERS = {
  "content-type": "text/html; charset=utf-8",
  "cache-control": "no-store",
  "x-content-type-options": "nosniff",
  "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'",
  "referrer-policy": "no-referrer",
};

export function sendPage(res: ServerResponse, p: ProxyPage, extra: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = renderPage(p);
  res.writeHead(p.status, { ...PAGE_HEADERS, ...extra, "content-length": Buffer.byteLength(body) });
  res.end(body);
}

/** The same page on a socket that has no ServerResponse (an upgrade), then the socket ends. */
export function sendPageOnSocket(socket: Duplex, p: ProxyPage, extra: Record<string, string> = {}): void {
  if (socket.destroyed || !socket.writable) return;
  const body = renderPage(p);
  const headers = {
    ...PAGE_HEADERS,
    ...extra,
    "content-length": String(Buffer.byteLength(body)),
    connection: "close",
  };
  const head = Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join("");
  socket.end(`HTTP/1.1 ${p.status} ${REASONS[p.status] ?? "Error"}\r\n${head}\r\n${body}`);
}

/** A bare status on a socket node's parser refused (no page: the request was not understood). */
export function rawStatus(socket: Duplex, status: number): void {
  if (socket.destroyed || !socket.writable) return;
  const body = `${REASONS[status] ?? "Error"}\n`;
  socket.end(
    `HTTP/1.1 ${status} ${REASONS[status] ?? "Error"}\r\ncontent-type: text/plain; charset=utf-8\r\n` +
      `content-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`,
  );
}
