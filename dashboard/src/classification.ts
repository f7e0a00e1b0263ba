// The classification extension answers strings "score:index:label", or
// "score:index" when the model has no labels file.

export interface ClassResult {
  score: number;
  index: number;
  label: string | null;
}

// Split on the first two colons only: a label may hold colons of its own.
export function parseClassification(entry: string): ClassResult | null {
  const first = entry.indexOf(':');
  if (first < 0) return null;
  const second = entry.indexOf(':', first + 1);
  const score = Number(entry.slice(0, first));
  const index = Number(second < 0 ? entry.slice(first + 1) : entry.slice(first + 1, second));
  if (!Number.isFinite(score) || !Number.isInteger(index)) return null;
  const label = second < 0 ? null : entry.slice(second + 1);
  return { score, index, label: label === '' ? null : label };
}

// The ranked results of the first output of an infer answer.
export function classificationsOf(response: unknown): ClassResult[] {
  const outputs = (response as { outputs?: { data?: unknown }[] } | null)?.outputs;
  const data = Array.isArray(outputs) ? outputs[0]?.data : undefined;
  if (!Array.isArray(data)) return [];
  return data
    .map((d) => (typeof d === 'string' ? parseClassification(d) : null))
    .filter((r): r is ClassResult => r !== null);
}
