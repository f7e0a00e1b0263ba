// One device's memory bar: a segment per resident model, whatever else is
// in use (loads in progress reserve their predicted size), and what is free.
import type { DeviceMemory, ModelInfo } from './types';

export interface Segment {
  kind: 'model' | 'other' | 'free';
  label: string;
  bytes: number;
  // Share of the bar's full width, 0..1.
  fraction: number;
}

export interface MemoryBar {
  device: string;
  used: number;
  budget: number | null;
  // What 100% of the bar stands for: the budget, or the used bytes when
  // there is none (or when use ran over it).
  scale: number;
  over: boolean;
  segments: Segment[];
}

export function memoryBar(memory: DeviceMemory, models: readonly ModelInfo[]): MemoryBar {
  const resident = models.filter((m) => m.device === memory.device && m.resident_bytes > 0);
  const modelBytes = resident.reduce((s, m) => s + m.resident_bytes, 0);
  const used = Math.max(memory.used_bytes, 0);
  const budget = memory.budget_bytes;
  const accounted = Math.max(used, modelBytes);
  const scale = Math.max(budget ?? 0, accounted, 1);
  const segments: Segment[] = resident.map((m) => ({
    kind: 'model',
    label: m.name,
    bytes: m.resident_bytes,
    fraction: m.resident_bytes / scale,
  }));
  const other = used - modelBytes;
  if (other > 0) segments.push({ kind: 'other', label: 'other (loading, reserved)', bytes: other, fraction: other / scale });
  if (budget !== null && budget > accounted)
    segments.push({ kind: 'free', label: 'free', bytes: budget - accounted, fraction: (budget - accounted) / scale });
  return { device: memory.device, used, budget, scale, over: budget !== null && accounted > budget, segments };
}
