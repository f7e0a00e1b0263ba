import { describe, expect, it } from 'vitest';
import { addHistograms, histogramDelta, histogramQuantile } from '../src/histogram';

const bounds = [10, 20, 40];

describe('histogramQuantile', () => {
  it('interpolates within the bucket holding the rank', () => {
    // 10 requests in (10, 20] us and 10 in (20, 40] us.
    const counts = [0, 10, 10, 0];
    expect(histogramQuantile(bounds, counts, 0.25)).toBe(15); // rank 5 of 10 in (10, 20]
    expect(histogramQuantile(bounds, counts, 0.5)).toBe(20); // rank 10: the top of (10, 20]
    expect(histogramQuantile(bounds, counts, 0.99)).toBeCloseTo(39.6, 10); // 20 + 20 * 9.8 / 10
  });

  it('starts the first bucket at zero', () => {
    expect(histogramQuantile(bounds, [4, 0, 0, 0], 0.5)).toBe(5);
  });

  it('answers the last bound for ranks in the overflow bucket', () => {
    expect(histogramQuantile(bounds, [0, 0, 0, 5], 0.5)).toBe(40);
    expect(histogramQuantile(bounds, [1, 0, 0, 99], 0.99)).toBe(40);
  });

  it('skips empty buckets before the rank', () => {
    // 1 fast request, 3 slow ones: p50 is in (20, 40], rank 2, 1 below.
    expect(histogramQuantile(bounds, [1, 0, 3, 0], 0.5)).toBeCloseTo(20 + (20 * 1) / 3, 10);
  });

  it('is null for an empty histogram', () => {
    expect(histogramQuantile(bounds, [0, 0, 0, 0], 0.5)).toBeNull();
    expect(histogramQuantile([], [], 0.5)).toBeNull();
  });

  it('ignores counts beyond the overflow bucket', () => {
    expect(histogramQuantile(bounds, [0, 2, 0, 0, 100], 0.5)).toBe(15);
  });
});

describe('histogramDelta', () => {
  it('subtracts bucket by bucket', () => {
    expect(histogramDelta([1, 2, 3, 0], [2, 5, 3, 1])).toEqual([1, 3, 0, 1]);
  });

  it('takes a histogram that went down as restarted', () => {
    expect(histogramDelta([5, 5, 5, 0], [1, 0, 0, 0])).toEqual([1, 0, 0, 0]);
  });

  it('takes the whole histogram when there is no earlier one of the same size', () => {
    expect(histogramDelta(undefined, [1, 2])).toEqual([1, 2]);
    expect(histogramDelta([1], [1, 2])).toEqual([1, 2]);
  });

  it('adds histograms of different models', () => {
    expect(addHistograms([], [1, 2, 3])).toEqual([1, 2, 3]);
    expect(addHistograms([1, 1, 1], [1, 2, 3])).toEqual([2, 3, 4]);
  });
});
