// The shapes of the server's JSON answers (docs/dashboard.md). Fields the
// dashboard can live without are optional: an older or newer server may
// leave them out, and the page must still render what it has.

export type RepositoryChanges = 'token' | 'open' | 'off';

export interface ServerInfo {
  name: string;
  version: string;
  started_ms: number;
  now_ms: number;
  repository_changes: RepositoryChanges | string;
}

export interface DeviceMemory {
  device: string;
  budget_bytes: number | null;
  used_bytes: number;
}

export interface ModelStats {
  success: number;
  failure: number;
  inference_count: number;
  execution_count: number;
  success_ns: number;
  queue_ns: number;
  latency_counts: number[];
  batch_executions: Record<string, number>;
}

export type ModelState = 'READY' | 'LOADING' | 'UNLOADING' | 'UNAVAILABLE';

export interface ModelInfo {
  name: string;
  version: number | string;
  state: ModelState | string;
  reason: string;
  engine: string;
  provider: string;
  device: string;
  resident_bytes: number;
  predicted_bytes?: number;
  pinned: boolean;
  keep_alive_ms: number | null;
  last_used_ms: number | null;
  in_flight: number;
  queued: number;
  instances?: number;
  loads?: number;
  evictions?: number;
  last_load_ms?: number;
  stats: ModelStats | null;
}

export interface Overview {
  server: ServerInfo;
  latency_bucket_us: number[];
  memory: DeviceMemory[];
  process_resident_bytes?: number;
  counters: Partial<Record<'loads' | 'load_failures' | 'unloads' | 'evictions' | 'keep_alive_unloads' | 'reloads', number>>;
  models: ModelInfo[];
  devices?: unknown;
}

export interface Preprocessing {
  input: string;
  datatype: 'FP32' | 'UINT8' | string;
  shape: number[];
  batched: boolean;
  layout: 'nchw' | 'nhwc' | string;
  color: 'rgb' | 'bgr' | string;
  resize_shorter_side: number;
  crop: [number, number];
  mean: number[];
  std: number[];
  preset?: string;
  output: string;
  labels: boolean;
}

export interface TensorMetadata {
  name: string;
  datatype: string;
  shape: number[];
}

export interface ModelMetadata {
  name: string;
  versions?: string[];
  platform?: string;
  inputs: TensorMetadata[];
  outputs: TensorMetadata[];
}
