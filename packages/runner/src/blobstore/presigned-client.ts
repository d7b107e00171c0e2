// The runner's only way into the blob store: presigned, per-object, short-lived URLs the control
// plane hands it (S3's own, or the control plane's /blob/v1 for the filesystem store). The runner
// holds no store credentials, so this client has no signing code at all: it sends the URL as given.
//
// Errors name the object by the URL's origin and path, never its query: the signature in it is
// a credential for as long as it lives.
import http from "node:http";
import https from "node:https";
import { Readable } from "node:stream";

export interface PresignedRequestOptions {
  /** For a control plane with its own CA (https); default: the global agents. */
  agent?: http.Agent | undefined;
  signal?: AbortSignal | undefined;
  /** Gives up if no response has begun after this long. Default 60 s. */
  timeoutMs?: number | undefined;
}

export interface PresignedRead {
  /** The object's size (from Content-Range on a ranged read). */
  size: number;
  start: number;
  end: number;
  etag: string;
  modified: Date | undefined;
  body: Readable;
}

export class PresignedUrlError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.name = "PresignedUrlError";
    this.status = status;
  }
}

/** The URL without its query (its signature), for messages and logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}`;
  } catch {
    return "(not a URL)";
  }
}

/** Uploads exactly `length` bytes. A body that is longer or shorter fails and stores nothing. */
export async function putPresigned(
  url: string,
  body: Uint8Array | Readable,
  length: number,
  o: PresignedRequestOptions = {},
): Promise<{ etag: string }> {
  if (!Number.isSafeInteger(length) || length < 0)
    throw new Error(`put ${redactUrl(url)}: bad length ${length}`);
  if (body instanceof Uint8Array && body.length !== length)
    throw new Error(`put ${redactUrl(url)}: the body is ${body.length} bytes, not ${length}`);
  const res = await send(url, "PUT", { "content-length": String(length) }, o, body);
  await expectStatus(res, url, "PUT", [200]);
  res.resume();
  return { etag: etagOf(res) };
}

/** Reads the object, or the inclusive byte range of it. */
export async function getPresigned(
  url: string,
  o: PresignedRequestOptions & { range?: { start: number; end?: number | undefined } } = {},
): Promise<PresignedRead> {
  const headers: Record<string, string> = {};
  if (o.range) headers["range"] = `bytes=${o.range.start}-${o.range.end ?? ""}`;
  const res = await send(url, "GET", headers, o);
  await expectStatus(res, url, "GET", o.range ? [206, 200] : [200]);
  const length = Number(res.headers["content-length"] ?? Number.NaN);
  const m = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(res.headers["content-range"] ?? "");
  if (res.statusCode === 206 && !m) {
    res.destroy();
    throw new PresignedUrlError(502, `GET ${redactUrl(url)}: a 206 reply without a usable Content-Range`);
  }
  const [start, end, size] = m ? [Number(m[1]), Number(m[2]), Number(m[3])] : [0, length - 1, length];
  return { size, start, end, etag: etagOf(res), modified: modifiedOf(res), body: res };
}

/** The object's size and ETag, or undefined if there is none. */
export async function headPresigned(
  url: string,
  o: PresignedRequestOptions = {},
): Promise<{ size: number; etag: string; modified: Date | undefined } | undefined> {
  const res = await send(url, "HEAD", {}, o);
  res.resume();
  if (res.statusCode === 404) return undefined;
  await expectStatus(res, url, "HEAD", [200]);
  return { size: Number(res.headers["content-length"] ?? 0), etag: etagOf(res), modified: modifiedOf(res) };
}

function modifiedOf(res: http.IncomingMessage): Date | undefined {
  const t = Date.parse(res.headers["last-modified"] ?? "");
  return Number.isNaN(t) ? undefined : new Date(t);
}

function etagOf(res: http.IncomingMessage): string {
  return String(res.headers["etag"] ?? "").replaceAll('"', "");
}

async function send(
  url: string,
  method: string,
  headers: Record<string, string>,
  o: PresignedRequestOptions,
  body?: Uint8Array | Readable,
): Promise<http.IncomingMessage> {
  try {
    return await sendOnce(url, method, headers, o, body);
  } catch (err) {
    // A pooled keep-alive socket the server had already closed: Node's documented case for one
    // retry. Only when the body can be sent again (a stream has been consumed).
    const reused = (err as { reusedSocket?: boolean }).reusedSocket === true;
    const code = ((err as Error).cause as NodeJS.ErrnoException | undefined)?.code;
    if (!reused || code !== "ECONNRESET" || body instanceof Readable) throw err;
    return sendOnce(url, method, headers, o, body);
  }
}

function sendOnce(
  url: string,
  method: string,
  headers: Record<string, string>,
  o: PresignedRequestOptions,
  body?: Uint8Array | Readable,
): Promise<http.IncomingMessage> {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return Promise.reject(new Error(`${method}: the presigned URL is not a URL`));
  }
  if (u.protocol !== "http:" && u.protocol !== "https:")
    return Promise.reject(new Error(`${method} ${redactUrl(url)}: presigned URLs are http or https only`));
  if (u.username || u.password)
    return Promise.reject(
      new Error(`${method} ${redactUrl(url)}: a presigned URL carries no user or password`),
    );
  const lib = u.protocol === "https:" ? https : http;
  return new Promise((resolve, reject) => {
    const req = lib.request(u, {
      method,
      headers,
      ...(o.agent ? { agent: o.agent } : {}),
      ...(o.signal ? { signal: o.signal } : {}),
    });
    const timer = setTimeout(
      () =>
        req.destroy(new Error(`${method} ${redactUrl(url)}: no reply within ${o.timeoutMs ?? 60_000} ms`)),
      o.timeoutMs ?? 60_000,
    );
    // The server may answer (a refusal) before it read the whole body; that answer is what counts.
    req.on("response", (res) => {
      clearTimeout(timer);
      resolve(res);
    });
    req.on("error", (err) => {
      clearTimeout(timer);
      const e = new Error(`${method} ${redactUrl(url)}: ${err.message}`, { cause: err });
      reject(Object.assign(e, { reusedSocket: req.reusedSocket }));
    });
    if (body === undefined) req.end();
    else if (body instanceof Uint8Array) req.end(body);
    else {
      body.on("error", (err) => req.destroy(err));
      body.pipe(req);
    }
  });
}

async function expectStatus(
  res: http.IncomingMessage,
  url: string,
  method: string,
  ok: number[],
): Promise<void> {
  const status = res.statusCode ?? 0;
  if (ok.includes(status)) return;
  // S3 answers with XML (<Code>…</Code>), the control plane with JSON ({"code":…,"message":…}).
  const text = (await readCapped(res, 4096)).toString("utf8");
  const s3Code = /<Code>([^<]{1,80})<\/Code>/.exec(text)?.[1];
  let detail = s3Code ?? "";
  if (!detail) {
    try {
      const j = JSON.parse(text) as { code?: string; message?: string };
      detail = [j.code, j.message].filter(Boolean).join(": ");
    } catch {}
  }
  throw new PresignedUrlError(
    status,
    `${method} ${redactUrl(url)}: HTTP ${status}${detail ? ` (${detail})` : ""}${hint(status)}`,
  );
}

function hint(status: number): string {
  if (status === 401 || status === 403)
    return "; the URL is expired, altered or for another method: ask for a new one";
  if (status === 413) return "; the body is larger than the URL allows";
  return "";
}

async function readCapped(res: Readable, cap: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of res) {
    const b = c as Buffer;
    if (n < cap) chunks.push(b.subarray(0, cap - n));
    n += b.length;
  }
  return Buffer.concat(chunks);
}
