// Per-environment log: init's stdout/stderr (written by the OCI runtime through an O_APPEND fd)
// plus Warren's lifecycle events. Bounded: past the cap the file is copy-truncated, which keeps
// init's O_APPEND fd valid (renaming would leave init writing to the rotated file forever).
// Older copies shift down (.1 -> .2 ...) and only `keep` of them survive. Bytes init writes
// between the copy and the truncate are lost; that window is microseconds, and a bounded log
// is worth more than those bytes.
import { appendFile, copyFile, open, rename, rm, stat, truncate } from "node:fs/promises";
import type { LogStream } from "@warren/protocol";
import type { RunnerConfig } from "../host/config.ts";

export interface LogLimits {
  maxBytes: number;
  /** Rotated copies to keep (file.1 is the newest). 0 keeps none: the log is simply cut. */
  keep: number;
}

export function logLimits(cfg: Pick<RunnerConfig, "logMaxBytes" | "logKeep">): LogLimits {
  return { maxBytes: cfg.logMaxBytes, keep: cfg.logKeep };
}

export async function appendEvent(file: string, message: string, limits: LogLimits): Promise<void> {
  // One prefix per line: batched setup output (clone, build, hooks) arrives several lines at once.
  const prefix = `[warren ${new Date().toISOString()}] `;
  const text = message
    .split("\n")
    .map((l) => prefix + l)
    .join("\n");
  await appendFile(file, `${text}\n`, { mode: 0o600 });
  await rotateIfNeeded(file, limits);
}

/** Rotates when the live file is past maxBytes; true when it did. */
export async function rotateIfNeeded(file: string, limits: LogLimits): Promise<boolean> {
  const st = await stat(file).catch(() => null);
  if (!st || st.size <= limits.maxBytes) return false;
  if (limits.keep > 0) {
    await rm(`${file}.${limits.keep}`, { force: true });
    for (let i = limits.keep - 1; i >= 1; i--) {
      await rename(`${file}.${i}`, `${file}.${i + 1}`).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== "ENOENT") throw err;
      });
    }
    await copyFile(file, `${file}.1`);
  }
  await truncate(file, 0);
  return true;
}

async function readFrom(file: string, offset: number): Promise<{ text: string; end: number }> {
  const fh = await open(file, "r").catch(() => null);
  if (!fh) return { text: "", end: offset };
  try {
    const { size } = await fh.stat();
    // The file was truncated by rotation: start again from its beginning.
    const from = size < offset ? 0 : offset;
    if (size === from) return { text: "", end: from };
    const buf = Buffer.alloc(size - from);
    await fh.read(buf, 0, buf.length, from);
    return { text: buf.toString("utf8"), end: size };
  } finally {
    await fh.close();
  }
}

function lastLines(text: string, n: number): string {
  if (n <= 0) return "";
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  return lines.slice(-n).join("\n") + (lines.length ? "\n" : "");
}

export function streamLog(
  file: string,
  opts: { follow: boolean; tail?: number; pollMs?: number },
  onData: (chunk: string) => void,
): LogStream {
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let resolveDone!: () => void;
  const done = new Promise<void>((r) => {
    resolveDone = r;
  });
  const close = () => {
    closed = true;
    if (timer) clearTimeout(timer);
    resolveDone();
  };
  (async () => {
    let { text, end } = await readFrom(file, 0);
    if (opts.tail !== undefined) text = lastLines(text, opts.tail);
    if (text) onData(text);
    if (!opts.follow) return close();
    const poll = async () => {
      if (closed) return;
      const next = await readFrom(file, end);
      end = next.end;
      if (next.text && !closed) onData(next.text);
      if (!closed) timer = setTimeout(poll, opts.pollMs ?? 200);
    };
    timer = setTimeout(poll, opts.pollMs ?? 200);
  })().catch(() => close());
  return { done, close };
}
