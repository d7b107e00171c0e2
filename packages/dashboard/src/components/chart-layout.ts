// Layout for the hand-written SVG bar chart (chart-bars.tsx): pure arithmetic from data and a
// width to rectangles, axis ticks and label positions, so it is unit-tested without a browser.
// Horizontal bars with each label on its own line above its bars: long keys (repository URLs,
// user names) never need to share a row with the bar, which keeps a phone-width chart readable.

export interface BarDatum {
  label: string;
  /** One value per series (at most a few: e.g. allocated and measured CPU). */
  values: number[];
}

export interface BarRect {
  row: number;
  series: number;
  x: number;
  y: number;
  width: number;
  height: number;
  value: number;
}

export interface ChartLayout {
  width: number;
  height: number;
  /** The scale's top: a round number at or above the largest value. */
  max: number;
  ticks: { x: number; value: number }[];
  labels: { x: number; y: number; text: string }[];
  bars: BarRect[];
  /** Where the value axis runs (x from plotLeft to plotRight, at y = axisY). */
  plotLeft: number;
  plotRight: number;
  axisY: number;
}

export interface LayoutOptions {
  width: number;
  barHeight?: number;
  labelHeight?: number;
  rowGap?: number;
  /** Room at the right for a value printed past the longest bar. */
  valueRoom?: number;
  tickCount?: number;
}

/** The smallest 1, 2 or 5 × 10^k at or above `v` (0 and below give 1, so the scale is never empty). */
export function niceCeil(v: number): number {
  if (!Number.isFinite(v) || v <= 0) return 1;
  const exp = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (m * exp >= v * (1 - 1e-12)) return m * exp;
  return 10 * exp;
}

export function barLayout(data: BarDatum[], o: LayoutOptions): ChartLayout {
  const width = Math.max(120, Math.floor(o.width));
  const barHeight = o.barHeight ?? 14;
  const labelHeight = o.labelHeight ?? 18;
  const rowGap = o.rowGap ?? 10;
  const valueRoom = o.valueRoom ?? 64;
  const tickCount = Math.max(1, o.tickCount ?? 4);
  const plotLeft = 4;
  const plotRight = Math.max(plotLeft + 20, width - valueRoom);
  const series = Math.max(1, ...data.map((d) => d.values.length));
  const rowHeight = labelHeight + series * barHeight + rowGap;
  const largest = Math.max(0, ...data.flatMap((d) => d.values.filter((v) => Number.isFinite(v))));
  const max = niceCeil(largest);
  const scale = (v: number) => ((plotRight - plotLeft) * Math.max(0, Math.min(v, max))) / max;

  const labels: ChartLayout["labels"] = [];
  const bars: BarRect[] = [];
  data.forEach((d, row) => {
    const top = row * rowHeight;
    labels.push({ x: plotLeft, y: top + labelHeight - 5, text: d.label });
    d.values.forEach((v, s) => {
      const value = Number.isFinite(v) ? v : 0;
      bars.push({
        row,
        series: s,
        x: plotLeft,
        y: top + labelHeight + s * barHeight,
        width: scale(value),
        height: barHeight - 2,
        value,
      });
    });
  });
  const axisY = data.length * rowHeight;
  const ticks = Array.from({ length: tickCount + 1 }, (_, i) => {
    const value = (max * i) / tickCount;
    return { x: plotLeft + scale(value), value };
  });
  return { width, height: axisY + 20, max, ticks, labels, bars, plotLeft, plotRight, axisY };
}
