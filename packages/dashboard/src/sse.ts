// A Server-Sent Events reader over fetch(): EventSource cannot send the CSRF header the session
// needs (and cannot be aborted per request), so the watch and streaming logs are read as a byte
// stream and parsed here, per the WHATWG event-stream format.

export interface SseEvent {
  /** `event:` field; "message" when absent. */
  event: string;
  data: string;
  id: string | undefined;
}

/** Splits a text stream into events; feed it chunks, it returns the events each chunk completes. */
export class SseParser {
  private buffer = "";
  private data: string[] = [];
  private event = "";
  private id: string | undefined;
  /** The last `id:` seen, for a resume (the watch's resource version). */
  lastId: string | undefined;

  push(chunk: string): SseEvent[] {
    this.buffer += chunk;
    const out: SseEvent[] = [];
    for (;;) {
      const nl = this.buffer.search(/\r\n|\r|\n/);
      if (nl < 0) break;
      // A lone \r at the end of a chunk may be the first half of \r\n: wait for more.
      if (this.buffer[nl] === "\r" && nl === this.buffer.length - 1) break;
      const line = this.buffer.slice(0, nl);
      this.buffer = this.buffer.slice(nl + (this.buffer.startsWith("\r\n", nl) ? 2 : 1));
      const ev = this.line(line);
      if (ev) out.push(ev);
    }
    return out;
  }

  private line(line: string): SseEvent | undefined {
    if (line === "") {
      if (this.data.length === 0) {
        this.event = "";
        return undefined;
      }
      const ev = { event: this.event || "message", data: this.data.join("\n"), id: this.id };
      this.data = [];
      this.event = "";
      return ev;
    }
    if (line.startsWith(":")) return undefined;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") this.data.push(value);
    else if (field === "event") this.event = value;
    else if (field === "id" && !value.includes("\0")) {
      this.id = value;
      this.lastId = value;
    }
    return undefined;
  }
}

/** Reads a fetch() response body as SSE, calling onEvent for each event until it ends or aborts. */
export async function readSse(
  res: Response,
  onEvent: (e: SseEvent) => void,
  signal?: AbortSignal,
): Promise<SseParser> {
  const parser = new SseParser();
  if (!res.body) return parser;
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  const cancel = () => void reader.cancel().catch(() => {});
  signal?.addEventListener("abort", cancel, { once: true });
  let finished = false;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      for (const e of parser.push(value)) onEvent(e);
    }
    finished = true;
  } finally {
    signal?.removeEventListener("abort", cancel);
    // onEvent threw (or we were aborted): let go of the connection.
    if (!finished) cancel();
  }
  return parser;
}
