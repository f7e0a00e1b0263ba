// `polaris devices --json` as cards to show. Its layout is the CLI's and may
// grow: today an object of families ("cpu", "cuda", ...) each with
// available / reason / devices[], a device with name, id, type,
// memory_bytes, features[], properties{} and providers[]. Anything else is
// shown as plain key/value fields rather than dropped.
import { formatBytes } from './format';

export interface ProviderRow {
  engine: string;
  provider: string;
  usable: boolean | null;
  note: string;
}

export interface DeviceCard {
  title: string;
  fields: [string, string][];
  providers: ProviderRow[];
}

export interface DeviceGroup {
  name: string;
  available: boolean | null;
  reason: string;
  fields: [string, string][];
  devices: DeviceCard[];
}

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);

function scalarText(key: string, v: unknown): string {
  if (typeof v === 'number' && /bytes$/.test(key)) return formatBytes(v);
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  if (v === null || v === undefined) return '–';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

function label(key: string): string {
  return key.replace(/_bytes$/, '').replace(/_/g, ' ');
}

// Scalars as they are, lists of scalars joined, nested objects one level
// flattened ("properties.cores" becomes "cores").
function fieldsOf(obj: Json, skip: readonly string[]): [string, string][] {
  const out: [string, string][] = [];
  for (const [key, v] of Object.entries(obj)) {
    if (skip.includes(key)) continue;
    if (Array.isArray(v)) {
      if (v.every((x) => !isObject(x) && !Array.isArray(x))) out.push([label(key), v.length ? v.join(', ') : 'none']);
      else out.push([label(key), `${v.length} entries`]);
    } else if (isObject(v)) {
      for (const [k, x] of Object.entries(v)) out.push([label(k), scalarText(k, x)]);
    } else if (v !== '' && v !== null && v !== undefined) {
      out.push([label(key), scalarText(key, v)]);
    }
  }
  return out;
}

function providerOf(p: unknown): ProviderRow {
  if (!isObject(p)) return { engine: '', provider: String(p), usable: null, note: '' };
  return {
    engine: typeof p.engine === 'string' ? p.engine : '',
    provider: String(p.provider ?? p.name ?? ''),
    usable: typeof p.usable === 'boolean' ? p.usable : null,
    note: typeof p.note === 'string' ? p.note : typeof p.reason === 'string' ? p.reason : '',
  };
}

function deviceOf(d: unknown, i: number): DeviceCard {
  if (!isObject(d)) return { title: String(d), fields: [], providers: [] };
  const title = String(d.name ?? d.id ?? `device ${i + 1}`);
  const providers = Array.isArray(d.providers) ? d.providers.map(providerOf) : [];
  const skip = ['name', 'providers'];
  // The id repeats the name for the CPU; keep it only when it adds something.
  if (d.id === d.name) skip.push('id');
  return { title, fields: fieldsOf(d, skip), providers };
}

function groupOf(name: string, v: unknown): DeviceGroup {
  if (Array.isArray(v)) return { name, available: null, reason: '', fields: [], devices: v.map(deviceOf) };
  if (!isObject(v)) return { name, available: null, reason: '', fields: [['value', scalarText(name, v)]], devices: [] };
  const devices = Array.isArray(v.devices) ? v.devices.map(deviceOf) : [];
  return {
    name,
    available: typeof v.available === 'boolean' ? v.available : null,
    reason: typeof v.reason === 'string' ? v.reason : '',
    fields: fieldsOf(v, ['available', 'reason', 'devices']),
    devices,
  };
}

export function describeDevices(json: unknown): DeviceGroup[] {
  if (json === null || json === undefined) return [];
  if (Array.isArray(json)) return [groupOf('devices', json)];
  if (!isObject(json)) return [groupOf('devices', json)];
  if (Array.isArray(json.devices)) return [groupOf('devices', json)];
  return Object.entries(json).map(([name, v]) => groupOf(name, v));
}
