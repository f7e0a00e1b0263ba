import { describe, expect, it } from 'vitest';
import type { Interval } from '../src/overview-diff';
import { chartData, pushInterval, stack } from '../src/series';

const bounds = [10, 20, 40];

function iv(t: number, dt: number, models: Interval['models'], evictions = 0): Interval {
  return { t, dt, models, evictions };
}

describe('pushInterval', () => {
  it('keeps the last two minutes', () => {
    let h: Interval[] = [];
    for (let t = 1; t <= 200; t++) h = pushInterval(h, iv(t, 1, []));
    expect(h.length).toBe(120);
    expect(h[0]!.t).toBe(81);
  });
  it('drops readings a clock that went back would put out of order', () => {
    const h = pushInterval([iv(10, 1, []), iv(11, 1, [])], iv(10.5, 1, []));
    expect(h.map((x) => x.t)).toEqual([10, 10.5]);
  });
});

describe('chartData', () => {
  const history = [
    iv(1, 1, [
      { name: 'a', requests: 4, latency: [0, 10, 10, 0], batches: { '1': 4, '4': 2 }, queueDepth: 2 },
      { name: 'b', requests: 2, latency: [0, 0, 0, 0], batches: {}, queueDepth: 1 },
    ]),
    iv(3, 2, [{ name: 'b', requests: 6, latency: [0, 0, 6, 0], batches: { '2': 3 }, queueDepth: 0 }], 1),
    iv(13, 10, [{ name: 'b', requests: 100, latency: [0, 0, 100, 0], batches: {}, queueDepth: 0 }]),
  ];

  it('computes rates, percentiles, batch sizes and queue depth for all models', () => {
    const d = chartData(history, bounds, null);
    expect(d.t).toEqual([1, 3, 13]);
    expect(d.models).toEqual(['a', 'b']);
    expect(d.rps).toEqual([
      [4, 0, null],
      [2, 3, null],
    ]);
    expect(d.total).toEqual([6, 3, null]);
    expect(d.p50Ms[0]).toBeCloseTo(0.02, 10); // 20 us
    expect(d.p99Ms[0]).toBeCloseTo(0.0396, 10);
    expect(d.p50Ms[1]).toBeCloseTo(0.03, 10); // rank 3 of 6 in (20, 40]
    expect(d.batch).toEqual([(4 * 1 + 2 * 4) / 6, 2, null]);
    expect(d.queue).toEqual([3, 0, 0]);
    expect(d.evictions).toEqual([0, 1, null]);
  });

  it('shows one model on its own', () => {
    const d = chartData(history, bounds, 'a');
    expect(d.models).toEqual(['a']);
    expect(d.total).toEqual([4, 0, null]);
    expect(d.p50Ms[1]).toBeNull();
    expect(d.queue).toEqual([2, 0, 0]);
  });
});

describe('stack', () => {
  it('sums layers and keeps gaps', () => {
    expect(stack([[1, 2, null], [3, 4, null]])).toEqual([[1, 2, null], [4, 6, null]]);
  });
});
