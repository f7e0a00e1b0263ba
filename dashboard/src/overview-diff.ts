// What happened between two consecutive polls of /polaris/overview: the
// server reports cumulative counters, the charts want per-interval rates.
import { histogramDelta } from './histogram';
import type { ModelInfo, Overview } from './types';

export interface ModelInterval {
  name: string;
  // Requests that finished in the interval (success + failure).
  requests: number;
  // Successful requests per latency bucket finishing in the interval.
  latency: number[];
  // Engine executions per batch size in the interval.
  batches: Record<string, number>;
  // A gauge, read at the end of the interval: running plus waiting.
  queueDepth: number;
}

export interface Interval {
  // End of the interval on the server's clock, in seconds (uPlot's unit).
  t: number;
  // Length in seconds; rates are counts / dt.
  dt: number;
  models: ModelInterval[];
  // Models unloaded for memory or for idleness in the interval.
  evictions: number;
}

// A counter that went down was reset (model reloaded, server restarted):
// what it holds now is what it counted since, all of it inside the interval.
export function counterDelta(prev: number | undefined, cur: number | undefined): number {
  const c = Number.isFinite(cur) ? (cur as number) : 0;
  if (prev === undefined || !Number.isFinite(prev)) return 0;
  return c >= prev ? c - prev : c;
}

export function batchDelta(
  prev: Record<string, number> | undefined,
  cur: Record<string, number> | undefined,
): Record<string, number> {
  const out: Record<string, number> = {};
  if (!cur) return out;
  const reset = prev !== undefined && Object.entries(prev).some(([size, n]) => (cur[size] ?? 0) < n);
  for (const [size, n] of Object.entries(cur)) {
    const d = prev === undefined ? 0 : reset ? n : n - (prev[size] ?? 0);
    if (d > 0) out[size] = d;
  }
  return out;
}

function modelInterval(prev: ModelInfo | undefined, cur: ModelInfo): ModelInterval {
  const queueDepth = (cur.in_flight ?? 0) + (cur.queued ?? 0);
  const empty = { name: cur.name, requests: 0, latency: [], batches: {}, queueDepth };
  // No earlier reading (new to the list, or just loaded): this poll is the
  // baseline. Counting everything it holds would draw the model's whole
  // history as one second's spike.
  if (!prev || !prev.stats || !cur.stats) return empty;
  if (String(prev.version) !== String(cur.version)) return empty;
  const p = prev.stats;
  const c = cur.stats;
  return {
    name: cur.name,
    requests: counterDelta(p.success + p.failure, c.success + c.failure),
    latency: histogramDelta(p.latency_counts, c.latency_counts ?? []),
    batches: batchDelta(p.batch_executions, c.batch_executions),
    queueDepth,
  };
}

// Null when the two readings do not make an interval: the server restarted
// in between (its counters start again from a moment we never saw) or its
// clock did not move forward.
export function diffOverviews(prev: Overview, cur: Overview): Interval | null {
  if (prev.server.started_ms !== cur.server.started_ms) return null;
  const dt = (cur.server.now_ms - prev.server.now_ms) / 1000;
  if (!(dt > 0)) return null;
  const before = new Map(prev.models.map((m) => [m.name, m]));
  const pc = prev.counters ?? {};
  const cc = cur.counters ?? {};
  return {
    t: cur.server.now_ms / 1000,
    dt,
    models: cur.models.map((m) => modelInterval(before.get(m.name), m)),
    evictions: counterDelta(pc.evictions, cc.evictions) + counterDelta(pc.keep_alive_unloads, cc.keep_alive_unloads),
  };
}
