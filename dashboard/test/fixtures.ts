import type { ModelInfo, Overview } from '../src/types';

export function model(name: string, over: Partial<ModelInfo> = {}, stats: Partial<NonNullable<ModelInfo['stats']>> = {}): ModelInfo {
  return {
    name,
    version: 1,
    state: 'READY',
    reason: '',
    engine: 'onnxruntime',
    provider: 'CPUExecutionProvider',
    device: 'cpu',
    resident_bytes: 31457280,
    predicted_bytes: 30000000,
    pinned: false,
    keep_alive_ms: null,
    last_used_ms: null,
    in_flight: 0,
    queued: 0,
    instances: 1,
    loads: 1,
    evictions: 0,
    last_load_ms: 412,
    stats: {
      success: 0,
      failure: 0,
      inference_count: 0,
      execution_count: 0,
      success_ns: 0,
      queue_ns: 0,
      latency_counts: [0, 0, 0, 0],
      batch_executions: {},
      ...stats,
    },
    ...over,
  };
}

export function overview(nowMs: number, models: ModelInfo[], over: Partial<Overview> = {}): Overview {
  return {
    server: { name: 'polaris', version: '0.1', started_ms: 1_000_000, now_ms: nowMs, repository_changes: 'token' },
    latency_bucket_us: [10, 20, 40],
    memory: [{ device: 'cpu', budget_bytes: 1 << 30, used_bytes: models.reduce((s, m) => s + m.resident_bytes, 0) }],
    process_resident_bytes: 200_000_000,
    counters: { loads: 2, load_failures: 0, unloads: 0, evictions: 0, keep_alive_unloads: 0, reloads: 0 },
    models,
    devices: {},
    ...over,
  };
}
