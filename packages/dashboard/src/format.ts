// Human-readable figures for tables (bytes in binary units, as the CLI prints them).

export function formatBytes(n: number | undefined | null): string {
  if (n === undefined || n === null || !Number.isFinite(n)) return "–";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

export function formatCores(n: number | undefined | null): string {
  if (n === undefined || n === null || !Number.isFinite(n)) return "–";
  return n < 0.01 && n > 0 ? "<0.01" : n.toFixed(2);
}

export function formatPercent(part: number, whole: number): string {
  if (!whole || !Number.isFinite(part)) return "";
  return `${Math.round((part / whole) * 100)}%`;
}

/** "3 min ago", "in 2 h": relative to now, coarse, for activity and deadlines. */
export function formatRelative(iso: string | undefined, now = Date.now()): string {
  if (!iso) return "–";
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return "–";
  const secs = Math.round((t - now) / 1000);
  const abs = Math.abs(secs);
  const [v, u] =
    abs < 60
      ? [abs, "s"]
      : abs < 3600
        ? [Math.round(abs / 60), "min"]
        : abs < 86400
          ? [Math.round(abs / 3600), "h"]
          : [Math.round(abs / 86400), "d"];
  return secs >= 0 ? `in ${v} ${u}` : `${v} ${u} ago`;
}

/** When idle stop stops it: relative to now, "never" without a timeout, "–" when none is set yet. */
export function formatIdleStop(
  idle: { timeoutSeconds: number | null; stopDeadline?: string } | undefined,
  now = Date.now(),
): string {
  if (idle?.stopDeadline) return formatRelative(idle.stopDeadline, now);
  return idle?.timeoutSeconds === null ? "never" : "–";
}

/** "2g" style size for the API from a number of GiB typed in a form. */
export function gib(n: number): string {
  return Number.isInteger(n) ? `${n}g` : `${Math.round(n * 1024)}m`;
}
