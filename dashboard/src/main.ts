// Wires the page together: one poll of /polaris/overview a second feeds
// every section.
import './style.css';
import { Api, ApiError } from './api';
import { Charts } from './charts';
import { DevicesView } from './devices-view';
import { byId, errorText, h, setText } from './dom';
import { formatBytes, formatDuration } from './format';
import { MemoryBars } from './memory-bars';
import { ModelsTable } from './models-table';
import { diffOverviews, type Interval } from './overview-diff';
import { Poller } from './poller';
import { pushInterval } from './series';
import { TryIt } from './try-it';
import type { Overview } from './types';

const TOKEN_KEY = 'polaris.token';

// sessionStorage throws in some privacy modes; the token then lives only
// as long as the page.
function storedToken(): string {
  try {
    return sessionStorage.getItem(TOKEN_KEY) ?? '';
  } catch {
    return '';
  }
}

function storeToken(token: string): void {
  try {
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    else sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    // see storedToken
  }
}

const tokenInput = byId<HTMLInputElement>('token');
tokenInput.value = storedToken();
const token = () => tokenInput.value.trim();
tokenInput.addEventListener('input', () => storeToken(token()));
byId('token-form').addEventListener('submit', (e) => e.preventDefault());
byId('token-clear').addEventListener('click', () => {
  tokenInput.value = '';
  storeToken('');
  tokenInput.focus();
});

const api = new Api(token);
const banner = byId('banner');
const serverLine = byId('server-line');
let poller: Poller;
const table = new ModelsTable(
  byId<HTMLTableElement>('models-table'),
  byId<HTMLTableSectionElement>('models-body'),
  byId('repo-note'),
  byId('action-status'),
  api,
  () => poller.now(),
  () => token() !== '',
);
const memory = new MemoryBars(byId('memory-bars'), byId('process-memory'));
const charts = new Charts(byId('charts'));
const chartModel = byId<HTMLSelectElement>('chart-model');
const devices = new DevicesView(byId('devices'));
const tryIt = new TryIt(api);

let previous: Overview | null = null;
let history: Interval[] = [];
let chartModels = '';

function updateChartModels(overview: Overview): void {
  const names = overview.models.map((m) => m.name);
  if (names.join('\n') === chartModels) return;
  chartModels = names.join('\n');
  const keep = chartModel.value;
  chartModel.replaceChildren(h('option', { value: '' }, 'All models'), ...names.map((n) => h('option', { value: n }, n)));
  chartModel.value = names.includes(keep) ? keep : '';
}

function drawCharts(): void {
  charts.update(history, previous?.latency_bucket_us ?? [], chartModel.value || null);
}
chartModel.addEventListener('change', drawCharts);

function render(overview: Overview): void {
  const s = overview.server;
  const c = overview.counters ?? {};
  setText(
    serverLine,
    `${s.name} ${s.version} · up ${formatDuration(Math.max(0, s.now_ms - s.started_ms))} · ` +
      `${c.loads ?? 0} loads, ${c.evictions ?? 0} evictions, ${c.keep_alive_unloads ?? 0} keep-alive unloads` +
      (overview.process_resident_bytes ? ` · ${formatBytes(overview.process_resident_bytes)} resident` : ''),
  );
  table.render(overview);
  memory.render(overview);
  updateChartModels(overview);
  tryIt.updateModels(overview.models);
  devices.render(overview.devices);
}

function showBanner(message: string | null): void {
  banner.hidden = message === null;
  setText(banner, message ?? '');
}

async function poll(): Promise<void> {
  let overview: Overview;
  try {
    overview = await api.overview();
  } catch (e) {
    if (e instanceof ApiError && (e.status === 401 || e.status === 403))
      showBanner(`The server wants a token to show its state: enter it in the token field above. (${e.message})`);
    else
      showBanner(`Cannot reach the Polaris server (${errorText(e)}). Retrying every second…`);
    return;
  }
  showBanner(null);
  if (previous) {
    const interval = diffOverviews(previous, overview);
    if (interval) history = pushInterval(history, interval);
  }
  previous = overview;
  render(overview);
  drawCharts();
}

poller = new Poller(poll, 1000);
poller.start();
