// Percentiles from a bucketed latency histogram (the server's
// latency_bucket_us bounds and one count per bucket plus an overflow count).

// Per-bucket difference of two cumulative histograms. Any bucket going down
// means the histogram restarted (model reloaded, server restarted), so the
// later histogram is itself the count since the restart.
export function histogramDelta(prev: readonly number[] | undefined, cur: readonly number[]): number[] {
  if (!prev || prev.length !== cur.length) return [...cur];
  const delta = cur.map((c, i) => c - (prev[i] ?? 0));
  return delta.some((d) => d < 0) ? [...cur] : delta;
}

export function addHistograms(into: number[], add: readonly number[]): number[] {
  for (let i = 0; i < add.length; i++) into[i] = (into[i] ?? 0) + (add[i] ?? 0);
  return into;
}

// The q-quantile (0..1), interpolated linearly within its bucket as
// Prometheus' histogram_quantile does: the first bucket starts at 0, and a
// rank that lands in the overflow bucket answers the last bound (nothing is
// known above it). Null when the histogram is empty.
export function histogramQuantile(bounds: readonly number[], counts: readonly number[], q: number): number | null {
  const n = Math.min(counts.length, bounds.length + 1);
  let total = 0;
  for (let i = 0; i < n; i++) total += Math.max(0, counts[i] ?? 0);
  if (total <= 0 || bounds.length === 0) return null;
  const rank = Math.min(Math.max(q, 0), 1) * total;
  let below = 0;
  for (let i = 0; i < n; i++) {
    const count = Math.max(0, counts[i] ?? 0);
    if (count > 0 && below + count >= rank) {
      if (i >= bounds.length) return bounds[bounds.length - 1] ?? null;
      const lower = i === 0 ? 0 : (bounds[i - 1] ?? 0);
      const upper = bounds[i] ?? lower;
      return lower + ((upper - lower) * (rank - below)) / count;
    }
    below += count;
  }
  return bounds[bounds.length - 1] ?? null;
}
