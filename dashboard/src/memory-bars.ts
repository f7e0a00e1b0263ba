// A stacked bar per device: each resident model, anything else in use, and
// what is left of the budget.
import { h, setText } from './dom';
import { formatBytes } from './format';
import { memoryBar, type MemoryBar } from './memory-layout';
import { palette } from './palette';
import type { Overview } from './types';

function summary(bar: MemoryBar): string {
  if (bar.budget === null) return `${formatBytes(bar.used)} used, no budget`;
  const pct = bar.budget > 0 ? ((100 * bar.used) / bar.budget).toFixed(bar.used / bar.budget < 0.1 ? 1 : 0) : '–';
  return `${formatBytes(bar.used)} of ${formatBytes(bar.budget)} used (${pct}%)${bar.over ? ', over budget' : ''}`;
}

function renderBar(bar: MemoryBar): HTMLElement {
  const track = h('div', { class: 'bar-track', role: 'img', 'aria-label': `${bar.device}: ${summary(bar)}` });
  const legend = h('ul', { class: 'bar-legend' });
  for (const s of bar.segments) {
    const color = s.kind === 'model' ? palette.colorFor(s.label) : '';
    const seg = h('div', { class: `bar-seg seg-${s.kind}`, title: `${s.label}: ${formatBytes(s.bytes)}` });
    seg.style.flexGrow = String(s.fraction);
    if (color) seg.style.backgroundColor = color;
    track.append(seg);
    const swatch = h('span', { class: `swatch seg-${s.kind}`, 'aria-hidden': 'true' });
    if (color) swatch.style.backgroundColor = color;
    legend.append(h('li', {}, swatch, `${s.label} `, h('span', { class: 'bytes' }, formatBytes(s.bytes))));
  }
  return h(
    'div',
    { class: 'membar', 'data-device': bar.device, 'data-used-bytes': bar.used },
    h('div', { class: 'bar-head' }, h('h3', {}, bar.device), h('span', { class: 'bar-summary' }, summary(bar))),
    track,
    legend,
  );
}

export class MemoryBars {
  private signature = '';

  constructor(
    private readonly container: HTMLElement,
    private readonly processLine: HTMLElement,
  ) {}

  render(overview: Overview): void {
    const bars = (overview.memory ?? []).map((m) => memoryBar(m, overview.models));
    // Nothing in the bars is focusable, so redrawing them whole is safe;
    // skipping identical redraws keeps the DOM quiet between changes.
    const signature = JSON.stringify(bars);
    if (signature !== this.signature) {
      this.signature = signature;
      this.container.replaceChildren(
        ...(bars.length ? bars.map(renderBar) : [h('p', { class: 'note' }, 'The server reports no device memory.')]),
      );
    }
    setText(
      this.processLine,
      overview.process_resident_bytes ? `Server process resident memory: ${formatBytes(overview.process_resident_bytes)}` : '',
    );
  }
}
