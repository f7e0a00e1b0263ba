// The devices and providers the server found (`polaris devices --json`).
import { describeDevices, type DeviceCard, type DeviceGroup } from './devices-model';
import { h } from './dom';

function fieldList(fields: readonly [string, string][]): HTMLElement | null {
  if (!fields.length) return null;
  return h('dl', { class: 'fields' }, ...fields.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}

function card(d: DeviceCard): HTMLElement {
  const providers = d.providers.length
    ? h(
        'ul',
        { class: 'providers' },
        ...d.providers.map((p) =>
          h(
            'li',
            { class: p.usable === false ? 'unusable' : p.usable ? 'usable' : '' },
            h('span', { class: 'provider-name' }, [p.engine, p.provider].filter(Boolean).join(' / ')),
            ' ',
            h('span', { class: 'usable-tag' }, p.usable === null ? '' : p.usable ? 'usable' : 'not usable'),
            p.note ? h('span', { class: 'provider-note' }, p.note) : null,
          ),
        ),
      )
    : null;
  return h(
    'article',
    { class: 'device' },
    h('h4', {}, d.title),
    fieldList(d.fields),
    providers ? h('h5', {}, 'Providers') : null,
    providers,
  );
}

function group(g: DeviceGroup): HTMLElement {
  const state = g.available === null ? '' : g.available ? 'available' : 'not available';
  return h(
    'section',
    { class: `device-group ${g.available === false ? 'absent' : ''}`, 'aria-label': g.name },
    h('h3', {}, g.name, state ? h('span', { class: `tag ${g.available ? 'ok' : 'off'}` }, state) : null),
    g.reason ? h('p', { class: 'note' }, g.reason) : null,
    fieldList(g.fields),
    ...g.devices.map(card),
  );
}

export class DevicesView {
  private signature: string | undefined;

  constructor(private readonly container: HTMLElement) {}

  render(devices: unknown): void {
    const signature = JSON.stringify(devices ?? null);
    if (signature === this.signature) return;
    this.signature = signature;
    const groups = describeDevices(devices);
    // Families with devices first: the absent ones are mostly "no driver".
    groups.sort((a, b) => Number(b.devices.length > 0) - Number(a.devices.length > 0));
    this.container.replaceChildren(
      ...(groups.length ? groups.map(group) : [h('p', { class: 'note' }, 'The server reports no devices.')]),
    );
  }
}
