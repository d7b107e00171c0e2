// A horizontal bar chart in plain SVG (no chart library: the layout is a page of arithmetic in
// chart-layout.ts). It sizes itself to its container, so the same chart reads at 1280 px and on a
// phone. The SVG is one labelled image for screen readers; pages show the same numbers in a table.
import type { JSX } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { type BarDatum, barLayout } from "./chart-layout.ts";

export interface BarChartProps {
  data: BarDatum[];
  /** One name per series, for the legend (e.g. ["allocated", "measured"]). */
  series: string[];
  /** How a value prints on the axis and beside its bar. */
  format: (v: number) => string;
  /** The accessible name: what the chart shows. */
  label: string;
}

const SERIES_CLASS = ["chart-bar-0", "chart-bar-1", "chart-bar-2"];

export function BarChart(props: BarChartProps): JSX.Element {
  const box = useRef<HTMLDivElement>(null);
  const [width, setWidth] = useState(600);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const measure = () => setWidth(el.clientWidth || 600);
    measure();
    const ro = new ResizeObserver(measure);
    ro.observe(el);
    return () => ro.disconnect();
  }, []);
  // A phone has room for fewer axis labels than a desktop before they run into each other.
  const l = barLayout(props.data, { width, tickCount: width < 560 ? 2 : 4 });
  return (
    <div class="chart" ref={box}>
      {props.series.length > 1 ? (
        <ul class="chart-legend" aria-hidden="true">
          {props.series.map((s, i) => (
            <li key={s}>
              <span class={`chart-swatch ${SERIES_CLASS[i % SERIES_CLASS.length]}`} /> {s}
            </li>
          ))}
        </ul>
      ) : null}
      <svg
        role="img"
        aria-label={props.label}
        width={l.width}
        height={l.height}
        viewBox={`0 0 ${l.width} ${l.height}`}
        class="chart-svg"
      >
        {l.ticks.map((t) => (
          <g key={t.x}>
            <line x1={t.x} x2={t.x} y1={0} y2={l.axisY} class="chart-grid" />
            <text
              x={t.x}
              y={l.axisY + 14}
              text-anchor={t.x === l.plotLeft ? "start" : "middle"}
              class="chart-tick"
            >
              {props.format(t.value)}
            </text>
          </g>
        ))}
        {l.labels.map((t) => (
          <text key={`${t.y}`} x={t.x} y={t.y} class="chart-label">
            {t.text}
          </text>
        ))}
        {l.bars.map((b) => (
          <g key={`${b.row}-${b.series}`}>
            <rect
              x={b.x}
              y={b.y}
              width={Math.max(b.width, b.value > 0 ? 1 : 0)}
              height={b.height}
              class={SERIES_CLASS[b.series % SERIES_CLASS.length]}
            >
              <title>
                {props.data[b.row]?.label} ({props.series[b.series] ?? ""}): {props.format(b.value)}
              </title>
            </rect>
            <text x={b.x + b.width + 4} y={b.y + b.height - 2} class="chart-value">
              {props.format(b.value)}
            </text>
          </g>
        ))}
      </svg>
    </div>
  );
}
