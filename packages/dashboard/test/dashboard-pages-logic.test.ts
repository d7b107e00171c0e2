// The pure parts of the settings and admin pages: the bar chart's layout and the formatting of
// sizes, times and durations (the API's own grammars where a form sends them back).
import assert from "node:assert/strict";
import { test } from "node:test";
import { barLayout, niceCeil } from "../src/components/chart-layout.ts";
import {
  dayToIso,
  durationArg,
  formatBytes,
  formatNumber,
  formatSeconds,
  sizeArg,
} from "../src/pages/settings/format.ts";

test("niceCeil rounds a scale's top up to 1, 2 or 5 × 10^k", () => {
  const cases: [number, number][] = [
    [0, 1],
    [-3, 1],
    [0.07, 0.1],
    [1, 1],
    [1.01, 2],
    [3, 5],
    [7, 10],
    [60.4, 100],
    [24, 50],
    [200, 200],
    [201, 500],
  ];
  for (const [v, want] of cases) assert.equal(niceCeil(v), want, `niceCeil(${v})`);
});

test("barLayout: bars scale to the largest value, one row per datum, series side by side", () => {
  const l = barLayout(
    [
      { label: "ada", values: [60, 24] },
      { label: "max", values: [24, 10] },
    ],
    { width: 600, valueRoom: 100, barHeight: 10, labelHeight: 20, rowGap: 10 },
  );
  assert.equal(l.max, 100);
  assert.equal(l.plotRight, 500);
  assert.equal(l.bars.length, 4);
  const span = l.plotRight - l.plotLeft;
  const ada = l.bars.filter((b) => b.row === 0);
  assert.deepEqual(
    ada.map((b) => Math.round(b.width * 1000) / 1000),
    [span * 0.6, span * 0.24].map((x) => Math.round(x * 1000) / 1000),
  );
  assert.equal(span, 496);
  // Series stack under the row's label; the second row starts one row (20 label + 2×10 bars + 10 gap) down.
  assert.deepEqual(
    l.bars.map((b) => b.y),
    [20, 30, 70, 80],
  );
  assert.deepEqual(
    l.labels.map((t) => t.text),
    ["ada", "max"],
  );
  assert.equal(l.axisY, 100);
  assert.equal(l.height, 120);
  assert.deepEqual(
    l.ticks.map((t) => t.value),
    [0, 25, 50, 75, 100],
  );
  assert.equal(l.ticks.at(-1)?.x, l.plotRight);
});

test("barLayout: zeros, non-finite values and an empty set draw nothing wider than the plot", () => {
  const l = barLayout([{ label: "x", values: [0, Number.NaN, Number.POSITIVE_INFINITY] }], { width: 50 });
  assert.equal(l.width, 120, "never narrower than a readable minimum");
  assert.equal(l.max, 1);
  for (const b of l.bars) {
    assert.equal(b.width, 0);
    assert.equal(b.value, 0);
  }
  const empty = barLayout([], { width: 400 });
  assert.equal(empty.bars.length, 0);
  assert.equal(empty.axisY, 0);
});

test("sizes and durations go back to the API in its own grammar, exactly", () => {
  assert.equal(sizeArg(64 * 1024 ** 3), "64Gi");
  assert.equal(sizeArg(1536 * 1024 ** 2), "1536Mi");
  assert.equal(sizeArg(2 * 1024 ** 4), "2Ti");
  assert.equal(sizeArg(1000), "1000");
  assert.equal(sizeArg(null), "");
  assert.equal(durationArg(5400), "1h30m");
  assert.equal(durationArg(86400 + 60), "1d1m");
  assert.equal(durationArg(45), "45s");
  assert.equal(durationArg(null), "");
});

test("formatting for people", () => {
  assert.equal(formatBytes(0), "0 B");
  assert.equal(formatBytes(1536), "1.5 KiB");
  assert.equal(formatBytes(20 * 1024 ** 3), "20 GiB");
  assert.equal(formatBytes(null), "—");
  assert.equal(formatSeconds(3900), "1h 5m");
  assert.equal(formatSeconds(200), "3m 20s");
  assert.equal(formatSeconds(2 * 86400 + 4 * 3600), "2d 4h");
  assert.equal(formatNumber(1.5), "1.5");
  assert.equal(formatNumber(60.0912), "60.09");
  assert.equal(formatNumber(undefined), "—");
});

test("a date input's day is the start (or, for until, the end) of that day in local time", () => {
  const since = dayToIso("2025-03-04");
  const until = dayToIso("2025-03-04", true);
  assert.ok(since && until);
  assert.equal(new Date(since).getDate(), 4);
  assert.equal(new Date(since).getHours(), 0);
  assert.equal(Date.parse(until) - Date.parse(since), 86_400_000);
  assert.equal(dayToIso(""), undefined);
  assert.equal(dayToIso("04/03/2025"), undefined);
});
