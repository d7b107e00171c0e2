// A pool's schedule: UTC windows that raise its minimum, written as a platform engineer would
// write a cron-ish rule: `mon-fri 08:00-18:00=5` (weekdays 08:00 to 18:00 UTC keep 5 ready).
// Several windows are separated by commas; where windows overlap the highest minimum wins. A
// window whose end is before its start runs past midnight (`22:00-02:00`), on the days named
// for its start.
import { WarrenError } from "@warren/protocol";

export interface PoolWindow {
  /** 0 = Sunday … 6 = Saturday. */
  days: number[];
  /** Minutes after midnight UTC; `to` may be below `from` (past midnight). */
  from: number;
  to: number;
  min: number;
}

const DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
const WINDOW_RE = /^(?:([a-z]{3})(?:-([a-z]{3}))?\s+)?(\d{2}):(\d{2})-(\d{2}):(\d{2})=(\d{1,3})$/;

function bad(text: string, why: string): WarrenError {
  return new WarrenError(
    "INVALID_ARGUMENT",
    `invalid schedule window "${text.slice(0, 80)}": ${why}; write e.g. "mon-fri 08:00-18:00=5" (UTC), windows separated by commas`,
    { field: "schedule" },
  );
}

/** Parses `mon-fri 08:00-18:00=5, sat 10:00-14:00=1`; "" is no schedule. */
export function parseSchedule(text: string, maxMin = 100): PoolWindow[] {
  const out: PoolWindow[] = [];
  for (const raw of text.split(",")) {
    const part = raw.trim().toLowerCase();
    if (!part) continue;
    const m = WINDOW_RE.exec(part);
    if (!m) throw bad(part, "it does not read as [DAY[-DAY]] HH:MM-HH:MM=N");
    const [, d1, d2, h1, m1, h2, m2, n] = m;
    const day = (d: string) => {
      const i = DAYS.indexOf(d);
      if (i < 0) throw bad(part, `"${d}" is not a day (use ${DAYS.join(", ")})`);
      return i;
    };
    let days = [0, 1, 2, 3, 4, 5, 6];
    if (d1) {
      const a = day(d1);
      const b = d2 ? day(d2) : a;
      days = [];
      for (let i = a; ; i = (i + 1) % 7) {
        days.push(i);
        if (i === b) break;
      }
    }
    const minutes = (h: string, mm: string) => {
      const hh = Number(h);
      const mi = Number(mm);
      if (hh > 24 || mi > 59 || (hh === 24 && mi !== 0)) throw bad(part, `${h}:${mm} is not a time of day`);
      return hh * 60 + mi;
    };
    const from = minutes(h1 as string, m1 as string);
    const to = minutes(h2 as string, m2 as string);
    if (from === to) throw bad(part, "the window is empty");
    const min = Number(n);
    if (min > maxMin) throw bad(part, `its minimum ${min} is above the pool's maximum ${maxMin}`);
    out.push({ days, from, to, min });
  }
  return out;
}

export function formatSchedule(windows: readonly PoolWindow[]): string {
  const hhmm = (x: number) =>
    `${String(Math.floor(x / 60)).padStart(2, "0")}:${String(x % 60).padStart(2, "0")}`;
  return windows
    .map((w) => {
      const first = w.days[0] as number;
      const last = w.days.at(-1) as number;
      const days = w.days.length === 7 ? "" : `${DAYS[first]}${w.days.length > 1 ? `-${DAYS[last]}` : ""} `;
      return `${days}${hhmm(w.from)}-${hhmm(w.to)}=${w.min}`;
    })
    .join(", ");
}

/** The minimum in force at `nowMs`: the highest of the base and every window open then. */
export function scheduledMin(base: number, windows: readonly PoolWindow[], nowMs: number): number {
  const d = new Date(nowMs);
  const day = d.getUTCDay();
  const minute = d.getUTCHours() * 60 + d.getUTCMinutes();
  let min = base;
  for (const w of windows) {
    const open =
      w.from < w.to
        ? w.days.includes(day) && minute >= w.from && minute < w.to
        : (w.days.includes(day) && minute >= w.from) || (w.days.includes((day + 6) % 7) && minute < w.to);
    if (open) min = Math.max(min, w.min);
  }
  return min;
}

/** The stored column (JSON PoolWindow[]); anything unreadable is no schedule. */
export function parseStoredSchedule(json: string): PoolWindow[] {
  try {
    const v = JSON.parse(json) as unknown;
    return Array.isArray(v) ? (v as PoolWindow[]) : [];
  } catch {
    return [];
  }
}
