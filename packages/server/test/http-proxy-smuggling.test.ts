// Request smuggling at the port proxy. Each case writes raw bytes on one connection: a first
// request with ambiguous or malformed framing, then a pipelined `GET /second` that closes the
// connection. The app behind the proxy (a real node:http server, reached through the fake
// runner's dial) records every request it receives. Each case states what the proxy must accept;
// the app must have received exactly that, in order, and nothing hidden in a body may ever arrive
// as a request of its own. A refused frame is a 400 (413 for an oversized chunk extension) and
// closes the connection, so the pipelined request is never seen either.
import assert from "node:assert/strict";
import net from "node:net";
import { after, before, test } from "node:test";
import { OWNER_COOKIE, type ProxyWorld, startProxyWorld } from "./http-proxy-world.ts";

let w: ProxyWorld;
let HOST = "";

before(async () => {
  w = await startProxyWorld("warren-smuggle-");
  w.serve(8080);
  HOST = `8080--dev--default.localhost:${w.proxyPort}`;
});
after(async () => {
  await w?.close();
});

/** Raw exchange: writes `bytes`, returns the whole response stream once the proxy closes. */
function exchange(bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(w.proxyPort, "127.0.0.1");
    let out = "";
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`no close within 3 s; got ${JSON.stringify(out)}`));
    }, 3000);
    s.setEncoding("latin1");
    s.on("data", (d: string) => (out += d));
    s.on("error", () => {});
    s.on("close", () => {
      clearTimeout(timer);
      resolve(out);
    });
    s.write(bytes, "latin1");
  });
}

const statuses = (raw: string) => [...raw.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));

const head = (line: string, extra = "") => `${line}\r\nHost: ${HOST}\r\nCookie: ${OWNER_COOKIE}\r\n${extra}`;
const second = () => head("GET /second HTTP/1.1", "Connection: close\r\n\r\n");
/** A request that would be smuggled if a body were read as a new request. */
const SMUGGLED = "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n";

interface Case {
  name: string;
  first: () => string;
  /** What the app must receive, in order (method, url and body); [] when refused. */
  accepted: string[];
  /** Status codes the client must get, in order. */
  replies: number[];
}

const SECOND = "GET /second ";
const refused = (name: string, first: () => string, status = 400): Case => ({
  name,
  first,
  accepted: [],
  replies: [status],
});

const CASES: Case[] = [
  refused("CL then TE", () =>
    head("POST /a HTTP/1.1", "Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG"),
  ),
  refused("TE then CL", () =>
    head("POST /a HTTP/1.1", `Transfer-Encoding: chunked\r\nContent-Length: 40\r\n\r\n0\r\n\r\n${SMUGGLED}`),
  ),
  refused("two different Content-Lengths", () =>
    head("POST /a HTTP/1.1", `Content-Length: 5\r\nContent-Length: 40\r\n\r\nhello${SMUGGLED}`),
  ),
  refused("two equal Content-Lengths", () =>
    head("POST /a HTTP/1.1", "Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello"),
  ),
  refused("Content-Length as a list", () => head("POST /a HTTP/1.1", "Content-Length: 5, 5\r\n\r\nhello")),
  refused("Content-Length with a plus sign", () =>
    head("POST /a HTTP/1.1", "Content-Length: +5\r\n\r\nhello"),
  ),
  refused("negative Content-Length", () => head("POST /a HTTP/1.1", "Content-Length: -1\r\n\r\nhello")),
  refused("hex Content-Length", () => head("POST /a HTTP/1.1", "Content-Length: 0x5\r\n\r\nhello")),
  refused("TE folded onto the next line (obs-fold)", () =>
    head(
      "POST /a HTTP/1.1",
      `Transfer-Encoding:\r\n chunked\r\nContent-Length: 35\r\n\r\n0\r\n\r\n${SMUGGLED}`,
    ),
  ),
  refused("TE: xchunked", () =>
    head("POST /a HTTP/1.1", `Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n${SMUGGLED}`),
  ),
  refused("TE: chunked, identity", () =>
    head("POST /a HTTP/1.1", `Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n${SMUGGLED}`),
  ),
  refused("TE: identity", () => head("POST /a HTTP/1.1", `Transfer-Encoding: identity\r\n\r\n${SMUGGLED}`)),
  refused("space before the colon", () =>
    head("POST /a HTTP/1.1", `Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n${SMUGGLED}`),
  ),
  refused("chunk size not hex", () =>
    head("POST /a HTTP/1.1", "Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n"),
  ),
  refused("chunk size overflowing 64 bits", () =>
    head("POST /a HTTP/1.1", "Transfer-Encoding: chunked\r\n\r\nfffffffffffffffff1\r\nhello\r\n0\r\n\r\n"),
  ),
  refused("negative chunk size", () =>
    head("POST /a HTTP/1.1", "Transfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n"),
  ),
  refused("chunk data longer than its size", () =>
    head("POST /a HTTP/1.1", `Transfer-Encoding: chunked\r\n\r\n5\r\nhelloXX\r\n0\r\n\r\n`),
  ),
  refused("bare LF ending header lines", () => `POST /a HTTP/1.1\nHost: ${HOST}\nContent-Length: 5\n\nhello`),
  refused("bare LF after a chunk size", () =>
    head("POST /a HTTP/1.1", "Transfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n"),
  ),
  refused("NUL in a header value", () => head("GET /a HTTP/1.1", "X-A: a\0b\r\n\r\n")),
  refused("bare CR in a header value", () => head("GET /a HTTP/1.1", "X-A: a\rb\r\n\r\n")),
  refused("space in a header name", () => head("GET /a HTTP/1.1", "X A: b\r\n\r\n")),
  refused("no Host header", () => `GET /a HTTP/1.1\r\nCookie: ${OWNER_COOKIE}\r\n\r\n`),
  refused(
    "a 20 KiB chunk extension",
    () =>
      head(
        "POST /a HTTP/1.1",
        `Transfer-Encoding: chunked\r\n\r\n5;x=${"a".repeat(20 * 1024)}\r\nhello\r\n0\r\n\r\n`,
      ),
    413,
  ),
  refused("two Host headers", () => head("GET /a HTTP/1.1", "Host: 8080--other--default.localhost\r\n\r\n")),
  refused("absolute-form target naming another host", () => head("GET http://evil.test/a HTTP/1.1", "\r\n")),
  refused("a Host outside the port URL forms", () => `GET /a HTTP/1.1\r\nHost: 8080--dev.localhost\r\n\r\n`),
  {
    name: "two spaces in the request line (node accepts it; the app gets a clean request)",
    first: () => head("GET  /a HTTP/1.1", "\r\n"),
    accepted: ["GET /a ", SECOND],
    replies: [200, 200],
  },
  {
    name: "valid Content-Length body that looks like a request",
    first: () => head("POST /a HTTP/1.1", `Content-Length: ${SMUGGLED.length}\r\n\r\n${SMUGGLED}`),
    accepted: [`POST /a ${SMUGGLED}`, SECOND],
    replies: [200, 200],
  },
  {
    name: "valid chunked body with a small extension and a trailer",
    first: () =>
      head(
        "POST /a HTTP/1.1",
        `Transfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n0\r\nX-Trailer: t\r\n\r\n`,
      ),
    accepted: ["POST /a hello", SECOND],
    replies: [200, 200],
  },
  {
    name: "TE: Chunked in another case",
    first: () => head("POST /a HTTP/1.1", "Transfer-Encoding: Chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"),
    accepted: ["POST /a abc", SECOND],
    replies: [200, 200],
  },
  {
    name: "GET with a Content-Length body",
    first: () => head("GET /a HTTP/1.1", "Content-Length: 5\r\n\r\nhello"),
    accepted: ["GET /a hello", SECOND],
    replies: [200, 200],
  },
];

for (const c of CASES) {
  test(`smuggling: ${c.name}`, async () => {
    w.seen.length = 0;
    const raw = await exchange(c.first() + second());
    assert.deepEqual(statuses(raw), c.replies, raw.slice(0, 300));
    const log = w.seen.map((s) => `${s.method} ${s.url} ${s.body}`);
    assert.deepEqual(log, c.accepted);
    assert.ok(!log.some((l) => l.startsWith("GET /smuggled")), "a smuggled request reached the app");
  });
}

test("the corpus has at least 20 cases", () => {
  assert.ok(CASES.length >= 20, String(CASES.length));
});
