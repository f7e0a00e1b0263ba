import { describe, expect, it } from 'vitest';
import { batchDelta, counterDelta, diffOverviews } from '../src/overview-diff';
import { model, overview } from './fixtures';

describe('counterDelta', () => {
  it('is the increase, or the new value after a reset, never negative', () => {
    expect(counterDelta(10, 15)).toBe(5);
    expect(counterDelta(10, 3)).toBe(3);
    expect(counterDelta(undefined, 3)).toBe(0);
    expect(counterDelta(3, undefined)).toBe(0);
  });
});

describe('batchDelta', () => {
  it('subtracts per batch size and drops sizes that did not run', () => {
    expect(batchDelta({ '1': 10, '4': 2 }, { '1': 12, '4': 2, '8': 1 })).toEqual({ '1': 2, '8': 1 });
  });
  it('takes everything after a reset', () => {
    expect(batchDelta({ '1': 10 }, { '1': 1, '2': 1 })).toEqual({ '1': 1, '2': 1 });
  });
});

describe('diffOverviews', () => {
  const a = model('a', {}, { success: 10, failure: 1, latency_counts: [1, 2, 0, 0], batch_executions: { '1': 11 } });
  const b = model('b', {}, { success: 5, latency_counts: [0, 5, 0, 0] });

  it('turns two polls into per-model counts over the interval', () => {
    const prev = overview(2_000_000, [a, b]);
    const cur = overview(2_002_000, [
      model('a', { in_flight: 2, queued: 3 }, { success: 30, failure: 1, latency_counts: [1, 12, 10, 0], batch_executions: { '1': 21, '2': 5 } }),
      model('b', {}, { success: 5, latency_counts: [0, 5, 0, 0] }),
    ], { counters: { evictions: 1, keep_alive_unloads: 2 } });
    const iv = diffOverviews(prev, cur)!;
    expect(iv.t).toBe(2002);
    expect(iv.dt).toBe(2);
    expect(iv.models).toEqual([
      { name: 'a', requests: 20, latency: [0, 10, 10, 0], batches: { '1': 10, '2': 5 }, queueDepth: 5 },
      { name: 'b', requests: 0, latency: [0, 0, 0, 0], batches: {}, queueDepth: 0 },
    ]);
    expect(iv.evictions).toBe(3);
  });

  it('counts nothing for a model it has no earlier reading of', () => {
    const iv = diffOverviews(overview(2_000_000, [a]), overview(2_001_000, [a, b]))!;
    expect(iv.models[1]).toEqual({ name: 'b', requests: 0, latency: [], batches: {}, queueDepth: 0 });
  });

  it('drops models that disappeared', () => {
    const iv = diffOverviews(overview(2_000_000, [a, b]), overview(2_001_000, [b]))!;
    expect(iv.models.map((m) => m.name)).toEqual(['b']);
  });

  it('takes counters that went down as reset', () => {
    const reloaded = model('a', {}, { success: 2, failure: 0, latency_counts: [2, 0, 0, 0], batch_executions: { '1': 2 } });
    const iv = diffOverviews(overview(2_000_000, [a]), overview(2_001_000, [reloaded]))!;
    expect(iv.models[0]).toMatchObject({ requests: 2, latency: [2, 0, 0, 0], batches: { '1': 2 } });
  });

  it('counts nothing for a model without statistics (unloaded)', () => {
    const unloaded = model('a', { state: 'UNAVAILABLE', resident_bytes: 0 });
    unloaded.stats = null;
    expect(diffOverviews(overview(2_000_000, [a]), overview(2_001_000, [unloaded]))!.models[0]!.requests).toBe(0);
    expect(diffOverviews(overview(2_000_000, [unloaded]), overview(2_001_000, [a]))!.models[0]!.requests).toBe(0);
  });

  it('makes no interval across a server restart or a clock that stood still', () => {
    const restarted = overview(2_001_000, [a]);
    restarted.server.started_ms = 2_000_500;
    expect(diffOverviews(overview(2_000_000, [a]), restarted)).toBeNull();
    expect(diffOverviews(overview(2_000_000, [a]), overview(2_000_000, [a]))).toBeNull();
  });
});
