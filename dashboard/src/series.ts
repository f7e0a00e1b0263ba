// The charts' data: a sliding window of intervals turned into the column
// arrays uPlot draws (x first, then one array per series).
import { addHistograms, histogramQuantile } from './histogram';
import type { Interval } from './overview-diff';

export const WINDOW_SECONDS = 120;

// Intervals longer than this are a gap (tab hidden, server unreachable):
// their average would draw a flat line through time nobody watched.
export const GAP_SECONDS = 5;

export function pushInterval(history: readonly Interval[], interval: Interval, windowS = WINDOW_SECONDS): Interval[] {
  const kept = history.filter((iv) => iv.t > interval.t - windowS && iv.t < interval.t);
  kept.push(interval);
  return kept;
}

export interface ChartData {
  t: number[];
  // Every model seen in the window, in first-seen order (stable colours).
  models: string[];
  // rps[i][k]: requests/s of models[i] in interval k (null in a gap).
  rps: (number | null)[][];
  total: (number | null)[];
  p50Ms: (number | null)[];
  p99Ms: (number | null)[];
  queue: (number | null)[];
  batch: (number | null)[];
  evictions: (number | null)[];
}

// `selected`: one model's name, or null for all of them. Evictions are the
// server's (keep-alive unloads are not counted per model).
export function chartData(history: readonly Interval[], bounds: readonly number[], selected: string | null): ChartData {
  const models: string[] = [];
  for (const iv of history)
    for (const m of iv.models)
      if ((selected === null || m.name === selected) && !models.includes(m.name)) models.push(m.name);
  const data: ChartData = {
    t: [],
    models,
    rps: models.map(() => []),
    total: [],
    p50Ms: [],
    p99Ms: [],
    queue: [],
    batch: [],
    evictions: [],
  };
  for (const iv of history) {
    data.t.push(iv.t);
    const gap = iv.dt > GAP_SECONDS;
    const chosen = iv.models.filter((m) => selected === null || m.name === selected);
    let total = 0;
    models.forEach((name, i) => {
      const m = chosen.find((x) => x.name === name);
      const rate = m ? m.requests / iv.dt : 0;
      total += rate;
      data.rps[i]!.push(gap ? null : rate);
    });
    data.total.push(gap ? null : total);
    const merged: number[] = [];
    let executions = 0;
    let samples = 0;
    let queue = 0;
    for (const m of chosen) {
      addHistograms(merged, m.latency);
      for (const [size, n] of Object.entries(m.batches)) {
        executions += n;
        samples += Number(size) * n;
      }
      queue += m.queueDepth;
    }
    const p50 = histogramQuantile(bounds, merged, 0.5);
    const p99 = histogramQuantile(bounds, merged, 0.99);
    data.p50Ms.push(gap || p50 === null ? null : p50 / 1000);
    data.p99Ms.push(gap || p99 === null ? null : p99 / 1000);
    data.queue.push(queue);
    data.batch.push(gap || executions === 0 ? null : samples / executions);
    data.evictions.push(gap ? null : iv.evictions);
  }
  return data;
}

// Running sums for a stacked area chart: layer i is the top of series i
// drawn over series 0..i-1. A gap stays a gap in every layer.
export function stack(series: readonly (number | null)[][]): (number | null)[][] {
  const out: (number | null)[][] = [];
  let below: (number | null)[] | undefined;
  for (const s of series) {
    const layer = s.map((v, k) => {
      if (v === null) return null;
      const base = below ? below[k] : 0;
      return base === null || base === undefined ? null : base + v;
    });
    out.push(layer);
    below = layer;
  }
  return out;
}
