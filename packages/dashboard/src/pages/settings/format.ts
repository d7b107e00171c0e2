// Plain formatting for the settings and admin pages: sizes, times and quantities as a person reads
// them. Pure, so the unit tests cover them without a browser.

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB"] as const;

/** 1536 -> "1.5 KiB"; null/undefined -> the placeholder (an unlimited quota, an unknown size). */
export function formatBytes(n: number | null | undefined, none = "—"): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return none;
  let v = n;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < UNITS.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(v >= 10 ? 0 : 1)} ${UNITS[i]}`;
}

/** An ISO time as "2025-01-02 03:04" in the viewer's zone; unparseable text is shown as it is. */
export function formatTime(iso: string | null | undefined, none = "—"): string {
  if (!iso) return none;
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const p = (x: number) => String(x).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
}

/** Seconds as "1h 5m", "3m 20s", "45s", "2d 4h". */
export function formatSeconds(s: number | null | undefined, none = "—"): string {
  if (s === null || s === undefined || !Number.isFinite(s)) return none;
  const t = Math.round(s);
  const d = Math.floor(t / 86400);
  const h = Math.floor((t % 86400) / 3600);
  const m = Math.floor((t % 3600) / 60);
  const sec = t % 60;
  if (d > 0) return h > 0 ? `${d}d ${h}h` : `${d}d`;
  if (h > 0) return m > 0 ? `${h}h ${m}m` : `${h}h`;
  if (m > 0) return sec > 0 ? `${m}m ${sec}s` : `${m}m`;
  return `${sec}s`;
}

/** A number with at most `digits` decimals and no trailing zeros: 1.50 -> "1.5". */
export function formatNumber(n: number | null | undefined, digits = 2, none = "—"): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return none;
  return String(Number(n.toFixed(digits)));
}

/**
 * A date input's "YYYY-MM-DD" as the ISO start of that day in the viewer's zone (the API takes ISO
 * times); `endOfDay` gives the next day's start, so "until 2025-01-02" includes all of the 2nd.
 * Empty input -> undefined (no bound).
 */
export function dayToIso(day: string, endOfDay = false): string | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day.trim());
  if (!m) return undefined;
  const d = new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]) + (endOfDay ? 1 : 0));
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

/** A Date as a date input's "YYYY-MM-DD" in the viewer's zone. */
export function isoDay(d: Date): string {
  const p = (x: number) => String(x).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
}

/** Bytes as the API's size grammar accepts it, exact: 64 GiB -> "64Gi", 1000 -> "1000". */
export function sizeArg(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n) || n <= 0) return "";
  for (const [unit, f] of [
    ["Ti", 1024 ** 4],
    ["Gi", 1024 ** 3],
    ["Mi", 1024 ** 2],
    ["Ki", 1024],
  ] as const) {
    if (n % f === 0) return `${n / f}${unit}`;
  }
  return String(n);
}

/** Seconds as the API's duration grammar, exact: 5400 -> "1h30m", 86400 -> "1d"; null -> "". */
export function durationArg(s: number | null | undefined): string {
  if (s === null || s === undefined || !Number.isFinite(s) || s <= 0) return "";
  const parts: string[] = [];
  let rest = Math.round(s);
  for (const [unit, f] of [
    ["d", 86400],
    ["h", 3600],
    ["m", 60],
    ["s", 1],
  ] as const) {
    if (rest >= f) {
      parts.push(`${Math.floor(rest / f)}${unit}`);
      rest %= f;
    }
  }
  return parts.join("");
}
