import { describe, expect, it } from 'vitest';
import { memoryBar } from '../src/memory-layout';
import { model } from './fixtures';

describe('memoryBar', () => {
  const models = [
    model('a', { resident_bytes: 300 }),
    model('b', { resident_bytes: 100 }),
    model('gpu', { resident_bytes: 500, device: 'cuda:0' }),
    model('off', { resident_bytes: 0, state: 'UNAVAILABLE' }),
  ];

  it('has a segment per resident model on the device, then what else is used, then free', () => {
    const bar = memoryBar({ device: 'cpu', budget_bytes: 1000, used_bytes: 450 }, models);
    expect(bar.segments).toEqual([
      { kind: 'model', label: 'a', bytes: 300, fraction: 0.3 },
      { kind: 'model', label: 'b', bytes: 100, fraction: 0.1 },
      { kind: 'other', label: 'other (loading, reserved)', bytes: 50, fraction: 0.05 },
      { kind: 'free', label: 'free', bytes: 550, fraction: 0.55 },
    ]);
    expect(bar.over).toBe(false);
  });

  it('scales to what is used when there is no budget', () => {
    const bar = memoryBar({ device: 'cuda:0', budget_bytes: null, used_bytes: 500 }, models);
    expect(bar.segments).toEqual([{ kind: 'model', label: 'gpu', bytes: 500, fraction: 1 }]);
    expect(bar.budget).toBeNull();
  });

  it('marks use over the budget', () => {
    const bar = memoryBar({ device: 'cpu', budget_bytes: 200, used_bytes: 400 }, models);
    expect(bar.over).toBe(true);
    expect(bar.scale).toBe(400);
    expect(bar.segments.map((s) => s.kind)).toEqual(['model', 'model']);
  });
});
