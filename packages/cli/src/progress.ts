// Progress for long work (base image build, image import). On a terminal: one status line per
// phase, rewritten in place. Otherwise (logs, CI): plain lines, throttled so a fast byte counter
// doesn't flood the output; the last state of each phase is always printed.
import { formatSize, type ProgressEvent, type ProgressFn } from "@warren/protocol";

export interface ProgressOut {
  isTTY?: boolean;
  write(s: string): unknown;
}

export interface ProgressDisplay {
  update: ProgressFn;
  /** Ends the current line; call when the work finishes or fails. */
  finish(): void;
}

export function describeProgress(ev: ProgressEvent): string {
  let s = `${ev.phase}: ${ev.message}`;
  if (ev.current !== undefined && ev.total !== undefined && ev.total > 0) {
    const pct = Math.min(100, Math.floor((ev.current / ev.total) * 100));
    s += ` ${formatSize(ev.current)}/${formatSize(ev.total)} (${pct}%)`;
  } else if (ev.current !== undefined && ev.current > 0) {
    s += ` ${formatSize(ev.current)}`;
  }
  return s;
}

export function progressDisplay(
  out: ProgressOut,
  opts: { now?: () => number; intervalMs?: number } = {},
): ProgressDisplay {
  const now = opts.now ?? Date.now;
  const tty = out.isTTY === true;
  const interval = opts.intervalMs ?? (tty ? 100 : 2000);
  let phase: string | undefined;
  let lastAt = -Infinity;
  let pending: string | undefined; // latest line not yet shown
  let onLine = false; // TTY: a status line is open and can be rewritten

  const show = (line: string) => {
    if (tty) out.write(`\r\x1b[K${line}`);
    else out.write(`${line}\n`);
    onLine = tty;
    pending = undefined;
    lastAt = now();
  };
  const flush = () => {
    if (pending !== undefined) show(pending);
  };

  return {
    update(ev) {
      const line = describeProgress(ev);
      if (ev.phase !== phase) {
        flush();
        if (onLine) out.write("\n");
        onLine = false;
        phase = ev.phase;
        show(line);
        return;
      }
      pending = line;
      if (now() - lastAt >= interval) flush();
    },
    finish() {
      flush();
      if (onLine) out.write("\n");
      onLine = false;
    },
  };
}
