// A ready-to-run KServe v2 JSON request for any model, from its metadata:
// every input present, dynamic dimensions as 1, data all zeros (empty
// strings for BYTES, false for BOOL), so "Run" works before any editing.
import type { ModelMetadata, TensorMetadata } from './types';

export interface JsonInput {
  name: string;
  shape: number[];
  datatype: string;
  data: (number | string | boolean)[];
}

export function concreteShape(shape: readonly number[]): number[] {
  return shape.map((d) => (d < 0 ? 1 : d));
}

export function zeroValue(datatype: string): number | string | boolean {
  if (datatype === 'BYTES') return '';
  if (datatype === 'BOOL') return false;
  return 0;
}

export function templateInput(input: TensorMetadata): JsonInput {
  const shape = concreteShape(input.shape ?? []);
  const count = shape.reduce((a, b) => a * b, 1);
  return { name: input.name, shape, datatype: input.datatype, data: new Array(count).fill(zeroValue(input.datatype)) };
}

export function requestTemplate(metadata: ModelMetadata): { inputs: JsonInput[] } {
  return { inputs: (metadata.inputs ?? []).map(templateInput) };
}

// JSON.stringify(x, null, 2) puts every number of a 150528-element tensor
// on a line of its own; arrays of plain values stay on one line here.
export function formatJson(value: unknown, indent = ''): string {
  if (Array.isArray(value)) {
    if (value.every((v) => v === null || typeof v !== 'object')) return `[${value.map((v) => JSON.stringify(v)).join(', ')}]`;
    const inner = indent + '  ';
    return `[\n${value.map((v) => inner + formatJson(v, inner)).join(',\n')}\n${indent}]`;
  }
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    if (entries.length === 0) return '{}';
    const inner = indent + '  ';
    return `{\n${entries.map(([k, v]) => `${inner}${JSON.stringify(k)}: ${formatJson(v, inner)}`).join(',\n')}\n${indent}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
