// `warren logs --json`: the text stream as one JSON object per line, for scripts.
// A log line is either Warren's lifecycle event, "[warren 2026-01-31T12:00:00.000Z] started",
// a note of the stream itself ("[warren] log stream closed: ..."), or the environment's init
// output, which carries no time of its own (null rather than a guess).
export interface LogLineJson {
  /** ISO-8601 when the log recorded one, else null. */
  time: string | null;
  /** "warren" for Warren's own lines, "init" for what the environment's init printed. */
  source: "warren" | "init";
  line: string;
}

const EVENT_RE = /^\[warren(?: (\d{4}-\d{2}-\d{2}T[0-9:.]+Z))?\] (.*)$/;

export function parseLogLine(text: string): LogLineJson {
  const m = EVENT_RE.exec(text);
  if (!m) return { time: null, source: "init", line: text };
  return { time: m[1] ?? null, source: "warren", line: m[2]! };
}

/**
 * Collects chunks (which split lines anywhere) and writes one JSON object per complete line;
 * end() writes a last line that had no newline.
 */
export function jsonLogWriter(write: (s: string) => unknown): { push(chunk: string): void; end(): void } {
  let rest = "";
  const emit = (line: string) => write(`${JSON.stringify(parseLogLine(line.replace(/\r$/, "")))}\n`);
  return {
    push(chunk) {
      const lines = (rest + chunk).split("\n");
      rest = lines.pop()!;
      for (const l of lines) emit(l);
    },
    end() {
      if (rest !== "") emit(rest);
      rest = "";
    },
  };
}
