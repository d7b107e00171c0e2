// Shared by the benchmarks: percentiles, a printed table, and JSON results.
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";

export interface Series {
  name: string;
  samplesMs: number[];
}

export function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const i = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[i]!;
}

export function summarize(s: Series) {
  return {
    name: s.name,
    n: s.samplesMs.length,
    p50: percentile(s.samplesMs, 50),
    p99: percentile(s.samplesMs, 99),
    mean: s.samplesMs.reduce((a, b) => a + b, 0) / Math.max(1, s.samplesMs.length),
  };
}

export function printTable(title: string, rows: Record<string, string | number>[]): void {
  console.log(`\n${title}`);
  if (rows.length === 0) return;
  const cols = Object.keys(rows[0]!);
  const fmt = (v: string | number) =>
    typeof v === "number" ? (Number.isInteger(v) ? String(v) : v.toFixed(2)) : v;
  const widths = cols.map((c) => Math.max(c.length, ...rows.map((r) => fmt(r[c] ?? "").length)));
  console.log(cols.map((c, i) => c.padEnd(widths[i]!)).join("  "));
  for (const r of rows) console.log(cols.map((c, i) => fmt(r[c] ?? "").padEnd(widths[i]!)).join("  "));
}

export function writeResults(name: string, data: unknown): string {
  const dir = path.resolve(import.meta.dirname, "../results");
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}.json`);
  writeFileSync(file, `${JSON.stringify(data, null, 2)}\n`);
  return file;
}

export async function timeMs(fn: () => Promise<unknown> | unknown): Promise<number> {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}
