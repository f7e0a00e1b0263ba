// One colour per model, the same in the memory bars and the charts. Each
// has at least 3:1 contrast on the white background (WCAG's for graphics).
export const COLORS = ['#1d4ed8', '#b45309', '#047857', '#b91c1c', '#6d28d9', '#0e7490', '#be185d', '#4d7c0f'];

function hash(name: string): number {
  let h = 0;
  for (let i = 0; i < name.length; i++) h = (h * 31 + name.charCodeAt(i)) >>> 0;
  return h;
}

// A name keeps the colour it got first for the life of the page; it starts
// from its hash (so the same repository looks the same on every visit) and
// moves on past colours already taken, so two models never share one until
// there are more models than colours.
export class Palette {
  private readonly assigned = new Map<string, string>();

  colorFor(name: string): string {
    const known = this.assigned.get(name);
    if (known) return known;
    const taken = new Set(this.assigned.values());
    const start = hash(name) % COLORS.length;
    let color = COLORS[start]!;
    for (let i = 0; i < COLORS.length; i++) {
      const c = COLORS[(start + i) % COLORS.length]!;
      if (!taken.has(c)) {
        color = c;
        break;
      }
    }
    this.assigned.set(name, color);
    return color;
  }
}

export const palette = new Palette();
