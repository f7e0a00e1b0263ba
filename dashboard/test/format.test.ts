import { describe, expect, it } from 'vitest';
import { formatBytes, formatDuration, formatLatencyUs, formatRelative } from '../src/format';

describe('formatBytes', () => {
  it('uses binary units with three significant digits', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1023)).toBe('1023 B');
    expect(formatBytes(1536)).toBe('1.50 KiB');
    expect(formatBytes(31457280)).toBe('30.0 MiB');
    expect(formatBytes(12884901888)).toBe('12.0 GiB');
    expect(formatBytes(210000000)).toBe('200 MiB');
    expect(formatBytes(null)).toBe('–');
  });
});

describe('formatRelative', () => {
  const now = 1_764_850_012_345;
  it('counts back from the server clock', () => {
    expect(formatRelative(null, now)).toBe('never');
    expect(formatRelative(now - 400, now)).toBe('just now');
    expect(formatRelative(now - 12_345, now)).toBe('12 s ago');
    expect(formatRelative(now - 5 * 60_000, now)).toBe('5 min ago');
    expect(formatRelative(now - 3 * 3_600_000, now)).toBe('3 h ago');
    expect(formatRelative(now - 72 * 3_600_000, now)).toBe('3 d ago');
  });
  it('says just now for a time slightly ahead (clock granularity)', () => {
    expect(formatRelative(now + 500, now)).toBe('just now');
  });
});

describe('formatDuration', () => {
  it('prints keep-alive periods', () => {
    expect(formatDuration(null)).toBe('never');
    expect(formatDuration(500)).toBe('500 ms');
    expect(formatDuration(30_000)).toBe('30 s');
    expect(formatDuration(300_000)).toBe('5 min');
    expect(formatDuration(5_430_000)).toBe('1 h 30 min 30 s');
  });
});

describe('formatLatencyUs', () => {
  it('picks the unit', () => {
    expect(formatLatencyUs(850)).toBe('850 µs');
    expect(formatLatencyUs(4_250)).toBe('4.25 ms');
    expect(formatLatencyUs(12_300)).toBe('12.3 ms');
    expect(formatLatencyUs(1_200_000)).toBe('1.20 s');
    expect(formatLatencyUs(null)).toBe('–');
  });
});
