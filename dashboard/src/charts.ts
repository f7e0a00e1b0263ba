// The live charts (uPlot). Each is rebuilt when its set of series changes
// (a model appears, the selection changes) and only fed new data otherwise.
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { h, setText } from './dom';
import { formatLatencyUs, formatNumber } from './format';
import type { Interval } from './overview-diff';
import { palette } from './palette';
import { chartData, stack, WINDOW_SECONDS, type ChartData } from './series';

const HEIGHT = 170;

interface SeriesSpec {
  label: string;
  color: string;
  fill?: boolean;
  // Values shown in the legend and caption when the drawn ones differ
  // (a stacked layer draws a running sum).
  raw?: (number | null)[];
}

interface ChartSpec {
  key: string;
  title: string;
  unit: (v: number) => string;
  // Counts of things: ticks at whole numbers only.
  integer?: boolean;
  kind: 'line' | 'stacked' | 'stepped' | 'bars';
  series: SeriesSpec[];
  values: (number | null)[][];
}

function alpha(color: string, a: number): string {
  const n = parseInt(color.slice(1), 16);
  return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${a})`;
}

function lastValue(values: readonly (number | null)[]): number | null {
  for (let i = values.length - 1; i >= 0; i--) if (values[i] !== null && values[i] !== undefined) return values[i]!;
  return null;
}

function specs(d: ChartData, selected: string | null): ChartSpec[] {
  const requests: ChartSpec =
    selected === null && d.models.length > 1
      ? {
          key: 'requests',
          title: 'Requests/s (stacked by model)',
          unit: (v) => formatNumber(v),
          kind: 'stacked',
          series: d.models.map((m, i) => ({ label: m, color: palette.colorFor(m), fill: true, raw: d.rps[i] })),
          values: stack(d.rps),
        }
      : {
          key: 'requests',
          title: 'Requests/s',
          unit: (v) => formatNumber(v),
          kind: 'line',
          series: [{ label: selected ?? d.models[0] ?? 'all', color: palette.colorFor(selected ?? d.models[0] ?? 'all'), fill: true }],
          values: [d.total],
        };
  return [
    requests,
    {
      key: 'latency',
      title: 'Latency',
      unit: (v) => formatLatencyUs(v * 1000),
      kind: 'line',
      series: [
        { label: 'p50', color: '#1d4ed8' },
        { label: 'p99', color: '#b91c1c' },
      ],
      values: [d.p50Ms, d.p99Ms],
    },
    {
      key: 'queue',
      title: 'Queue depth (running + waiting)',
      unit: (v) => formatNumber(v, 0),
      kind: 'stepped',
      integer: true,
      series: [{ label: 'requests', color: '#047857', fill: true }],
      values: [d.queue],
    },
    {
      key: 'batch',
      title: 'Average batch size',
      unit: (v) => formatNumber(v, 2),
      kind: 'line',
      series: [{ label: 'batch', color: '#6d28d9' }],
      values: [d.batch],
    },
    {
      key: 'evictions',
      title: 'Evictions and keep-alive unloads (all models)',
      unit: (v) => formatNumber(v, 0),
      kind: 'bars',
      integer: true,
      series: [{ label: 'unloads', color: '#b45309', fill: true }],
      values: [d.evictions],
    },
  ];
}

const INTEGER_STEPS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 100_000, 1_000_000];

// Seconds before the newest poll: "-90 s" reads faster than a clock time
// on a window that is always the last two minutes.
function ago(seconds: number): string {
  const s = Math.round(-seconds);
  return s <= 0 ? 'now' : `-${s} s`;
}

function options(spec: ChartSpec, width: number): uPlot.Options {
  const paths =
    spec.kind === 'bars'
      ? uPlot.paths.bars!({ size: [0.6, 12] })
      : spec.kind === 'stepped'
        ? uPlot.paths.stepped!({ align: 1 })
        : undefined;
  const series: uPlot.Series[] = [
    { label: 'time', value: (_u, v) => (v === null || v === undefined ? '–' : ago(v)) },
    ...spec.series.map((s): uPlot.Series => ({
      label: s.label,
      stroke: s.color,
      width: 2,
      fill: s.fill ? alpha(s.color, spec.kind === 'stacked' ? 0.55 : 0.15) : undefined,
      paths,
      points: { show: false },
      value: (_u, v, _si, idx) => {
        const shown = s.raw && idx !== null ? s.raw[idx] : v;
        return shown === null || shown === undefined ? '–' : spec.unit(shown);
      },
    })),
  ];
  const bands: uPlot.Band[] = [];
  if (spec.kind === 'stacked') for (let i = 2; i < series.length; i++) bands.push({ series: [i, i - 1] });
  return {
    width,
    height: HEIGHT,
    series,
    bands,
    legend: { show: true, live: true },
    cursor: { drag: { x: false, y: false } },
    scales: {
      // A fixed two-minute window ending at the newest poll, instead of
      // rescaling to the few seconds of data there are after the page opens.
      x: { time: false, range: [-WINDOW_SECONDS, 0] },
      y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.15 : 1] },
    },
    axes: [
      {
        stroke: '#374151',
        grid: { stroke: '#e5e7eb' },
        ticks: { stroke: '#d1d5db' },
        incrs: [15, 30, 60],
        values: (_u, splits) => splits.map(ago),
      },
      {
        stroke: '#374151',
        grid: { stroke: '#e5e7eb' },
        ticks: { stroke: '#d1d5db' },
        // Wide enough for the longest tick label ("12.5 ms") at the axis font.
        size: (_u, values) => 16 + 7 * Math.max(3, ...(values ?? []).map((v) => v.length)),
        ...(spec.integer ? { incrs: INTEGER_STEPS } : {}),
        values: (_u, splits) => splits.map((v) => (v === 0 ? '0' : spec.unit(v))),
      },
    ],
  };
}

interface Live {
  plot: uPlot;
  shape: string;
  figure: HTMLElement;
  latest: HTMLElement;
}

export class Charts {
  private readonly live = new Map<string, Live>();
  private readonly observer: ResizeObserver;
  private frame = 0;

  constructor(private readonly container: HTMLElement) {
    // Resizing in the observer's own callback can change the layout it is
    // reporting on ("ResizeObserver loop" errors): wait for the next frame.
    this.observer = new ResizeObserver(() => {
      if (this.frame === 0) this.frame = requestAnimationFrame(() => {
        this.frame = 0;
        this.resize();
      });
    });
    this.observer.observe(container);
  }

  update(history: readonly Interval[], bounds: readonly number[], selected: string | null): void {
    const d = chartData(history, bounds, selected);
    // x is seconds relative to the newest poll, so the window's right edge
    // is always 0 whatever the two clocks say.
    const newest = d.t[d.t.length - 1] ?? 0;
    const t = d.t.map((x) => x - newest);
    for (const spec of specs(d, selected)) {
      const shape = `${spec.kind}|${spec.series.map((s) => s.label).join(',')}`;
      let live = this.live.get(spec.key);
      const data = [t, ...spec.values] as uPlot.AlignedData;
      if (!live || live.shape !== shape) {
        live?.plot.destroy();
        const figure = live?.figure ?? this.figure(spec.key);
        const latest = live?.latest ?? (figure.querySelector('.latest') as HTMLElement);
        setText(figure.querySelector('.title')!, spec.title);
        const target = figure.querySelector('.plot') as HTMLElement;
        const plot = new uPlot(options(spec, this.widthOf(figure)), data, target);
        live = { plot, shape, figure, latest };
        this.live.set(spec.key, live);
      } else {
        live.plot.setData(data);
      }
      // The canvas says nothing to a screen reader: the caption carries the
      // latest reading as text.
      const now = spec.series
        .map((s, i) => {
          const v = lastValue(s.raw ?? spec.values[i] ?? []);
          return v === null ? null : `${spec.series.length > 1 ? `${s.label} ` : ''}${spec.unit(v)}`;
        })
        .filter((x) => x !== null)
        .join(', ');
      setText(live.latest, now ? `now ${now}` : 'no data yet');
    }
  }

  private figure(key: string): HTMLElement {
    const figure = h(
      'figure',
      { class: 'chart', 'data-chart': key },
      h('figcaption', {}, h('span', { class: 'title' }), ' ', h('span', { class: 'latest' })),
      h('div', { class: 'plot' }),
    );
    this.container.append(figure);
    return figure;
  }

  private widthOf(figure: HTMLElement): number {
    return Math.max(200, Math.floor(figure.clientWidth || this.container.clientWidth || 300));
  }

  private resize(): void {
    for (const live of this.live.values()) {
      const width = this.widthOf(live.figure);
      if (live.plot.width !== width) live.plot.setSize({ width, height: HEIGHT });
    }
  }
}
