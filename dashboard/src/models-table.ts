// The models table with its row actions. Rows are kept and updated in
// place across polls, so a keyboard user's focus stays on the button it
// is on while the numbers around it change every second.
import type { Api, RepositoryAction } from './api';
import { errorText, h, setAttr, setText } from './dom';
import { formatBytes, formatDuration, formatRelative } from './format';
import type { ModelInfo, Overview } from './types';

interface Row {
  tr: HTMLTableRowElement;
  name: HTMLTableCellElement;
  state: HTMLTableCellElement;
  badge: HTMLSpanElement;
  reason: HTMLSpanElement;
  version: HTMLTableCellElement;
  engine: HTMLTableCellElement;
  provider: HTMLTableCellElement;
  memory: HTMLTableCellElement;
  lastUse: HTMLTableCellElement;
  pinned: HTMLTableCellElement;
  keepAlive: HTMLTableCellElement;
  load: HTMLButtonElement;
  unload: HTMLButtonElement;
  pin: HTMLButtonElement;
}

const VERB: Record<RepositoryAction, [string, string]> = {
  load: ['Loading', 'loaded'],
  unload: ['Unloading', 'unloaded'],
  pin: ['Pinning', 'pinned'],
  unpin: ['Unpinning', 'unpinned'],
};

export const CHANGES_OFF_NOTE = 'Repository changes are off: start polaris serve with --admin-token to load, unload and pin models here.';

export class ModelsTable {
  private readonly rows = new Map<string, Row>();
  private readonly pending = new Set<string>();
  private readonly emptyRow: HTMLTableRowElement;
  private actionsAllowed = true;
  private last: Overview | null = null;

  constructor(
    private readonly table: HTMLTableElement,
    private readonly body: HTMLTableSectionElement,
    private readonly note: HTMLElement,
    private readonly status: HTMLElement,
    private readonly api: Api,
    private readonly refresh: () => void,
    private readonly hasToken: () => boolean,
  ) {
    this.emptyRow = h('tr', {}, h('td', { colspan: 10, class: 'empty' }, 'No models in the repository.'));
  }

  render(overview: Overview): void {
    this.last = overview;
    const changes = overview.server.repository_changes;
    this.actionsAllowed = changes !== 'off';
    this.table.classList.toggle('no-actions', !this.actionsAllowed);
    this.note.hidden = this.actionsAllowed && !(changes === 'token' && !this.hasToken());
    setText(
      this.note,
      this.actionsAllowed ? 'Enter the admin token above to load, unload and pin models.' : CHANGES_OFF_NOTE,
    );

    const seen = new Set<string>();
    let position = 0;
    for (const model of overview.models) {
      seen.add(model.name);
      let row = this.rows.get(model.name);
      if (!row) {
        row = this.createRow(model.name);
        this.rows.set(model.name, row);
      }
      this.update(row, model, overview.server.now_ms);
      // Move a row only when it is out of place: moving the row that holds
      // the focused button would drop the focus.
      if (this.body.children[position] !== row.tr) this.body.insertBefore(row.tr, this.body.children[position] ?? null);
      position++;
    }
    for (const [name, row] of this.rows)
      if (!seen.has(name)) {
        row.tr.remove();
        this.rows.delete(name);
      }
    if (overview.models.length === 0) {
      if (!this.emptyRow.isConnected) this.body.append(this.emptyRow);
    } else this.emptyRow.remove();
  }

  private createRow(name: string): Row {
    const button = (label: string, action: () => RepositoryAction) => {
      const b = h('button', { type: 'button', class: 'small' }, label);
      b.addEventListener('click', () => void this.act(name, action()));
      return b;
    };
    const cell = (cls?: string) => h('td', cls ? { class: cls } : {});
    const badge = h('span', { class: 'badge' });
    const reason = h('span', { class: 'reason' });
    const row: Row = {
      tr: h('tr', { 'data-model': name }),
      name: h('th', { scope: 'row', class: 'name' }, name),
      state: h('td', { 'data-field': 'state' }, badge, reason),
      badge,
      reason,
      version: cell(),
      engine: cell(),
      provider: cell(),
      memory: cell('num'),
      lastUse: cell(),
      pinned: cell(),
      keepAlive: cell(),
      load: button('Load', () => 'load'),
      unload: button('Unload', () => 'unload'),
      pin: button('Pin', () => (this.rows.get(name)?.pin.dataset.pinned === 'true' ? 'unpin' : 'pin')),
    };
    row.load.setAttribute('aria-label', `Load ${name}`);
    row.unload.setAttribute('aria-label', `Unload ${name}`);
    const actions = h('td', { class: 'actions' }, h('div', { class: 'buttons' }, row.load, row.unload, row.pin));
    row.tr.append(row.name, row.state, row.version, row.engine, row.provider, row.memory, row.lastUse, row.pinned, row.keepAlive, actions);
    return row;
  }

  private update(row: Row, m: ModelInfo, now: number): void {
    setText(row.badge, m.state);
    setAttr(row.state, 'data-state', m.state);
    row.badge.className = `badge state-${String(m.state).toLowerCase()}`;
    setText(row.reason, m.state === 'UNAVAILABLE' && m.reason ? m.reason : '');
    setText(row.version, String(m.version ?? ''));
    setText(row.engine, m.engine || '–');
    setText(row.provider, m.provider || '–');
    setText(row.memory, m.resident_bytes > 0 ? formatBytes(m.resident_bytes) : '–');
    setText(row.lastUse, formatRelative(m.last_used_ms, now));
    setText(row.pinned, m.pinned ? 'yes' : 'no');
    setText(row.keepAlive, formatDuration(m.keep_alive_ms));

    const busy = this.pending.has(m.name) || m.state === 'LOADING' || m.state === 'UNLOADING';
    const off = !this.actionsAllowed;
    row.load.disabled = off || busy || m.state === 'READY';
    row.unload.disabled = off || busy || m.state !== 'READY';
    row.pin.disabled = off || this.pending.has(m.name);
    row.pin.dataset.pinned = String(m.pinned);
    setText(row.pin, m.pinned ? 'Unpin' : 'Pin');
    setAttr(row.pin, 'aria-label', `${m.pinned ? 'Unpin' : 'Pin'} ${m.name}`);
  }

  private say(message: string, error: boolean): void {
    this.status.classList.toggle('error', error);
    setText(this.status, message);
  }

  private async act(name: string, action: RepositoryAction): Promise<void> {
    if (this.pending.has(name)) return;
    this.pending.add(name);
    if (this.last) this.render(this.last);
    const [doing, done] = VERB[action];
    this.say(`${doing} ${name}…`, false);
    try {
      await this.api.repository(name, action);
      this.say(`${name} ${done}.`, false);
    } catch (e) {
      this.say(`Could not ${action} ${name}: ${errorText(e)}`, true);
    } finally {
      this.pending.delete(name);
      if (this.last) this.render(this.last);
      this.refresh();
    }
  }
}
