/**
 * The report's three plots, drawn by Observable Plot into a linkedom document so they render in Node
 * with no browser. Each returns one `<svg>` as a string, or null when there is nothing to draw.
 *
 * Legends are left to the report (plain HTML) so that a figure holds exactly one `<svg>`, and colours
 * are fixed per kind and placement so they do not shift when a run has fewer kinds than another.
 */

import * as Plot from '@observablehq/plot';
import { parseHTML } from 'linkedom';
import type { DemoReport, TimelineKind } from '../schema/index.js';

export const TIMELINE_KINDS: readonly TimelineKind[] = [
  'device-fault',
  'migrate-to-device',
  'migrate-to-ram',
  'eviction',
  'invalidation',
  'cpu-fault',
];

export const KIND_COLORS: Readonly<Record<TimelineKind, string>> = {
  'device-fault': '#ff725c',
  'migrate-to-device': '#4269d0',
  'migrate-to-ram': '#efb118',
  eviction: '#a463f2',
  invalidation: '#6cc5b0',
  'cpu-fault': '#9c6b4e',
};

export type Placement = 'device' | 'system' | 'unmapped';
export const PLACEMENTS: readonly Placement[] = ['device', 'system', 'unmapped'];
export const PLACEMENT_COLORS: Readonly<Record<Placement, string>> = {
  device: '#4269d0',
  system: '#efb118',
  unmapped: '#d5d7dc',
};

/** Points per kind: enough for a 640-px-wide line, few enough that 10^6 events stay a small SVG. */
export const MAX_POINTS = 500;

const WIDTH = 640;
const OTHER_COLOR = '#9498a0';
// Plot's own class would change with its version; a fixed one keeps reports comparable across upgrades.
const CLASS_NAME = 'hmmsim-plot';

export interface TimelinePoint {
  tUs: number;
  kind: string;
  pages: number;
}

/** Thousands separators and at most three decimals, independent of the host's locale. */
export function formatNumber(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const fixed = Math.abs(n).toFixed(Number.isInteger(n) ? 0 : 3);
  const [int = '', frac = ''] = fixed.split('.');
  const grouped = int.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  const decimals = frac.replace(/0+$/, '');
  const body = decimals === '' ? grouped : `${grouped}.${decimals}`;
  return n < 0 && /[1-9]/.test(body) ? `-${body}` : body;
}

/** Short axis ticks (12k, 1.5M) so that a 10^6-event run fits the same margin as a small one. */
function compact(n: number): string {
  const abs = Math.abs(n);
  if (abs >= 1e6) return `${formatNumber(Number((n / 1e6).toFixed(1)))}M`;
  if (abs >= 1e4) return `${formatNumber(Number((n / 1e3).toFixed(1)))}k`;
  return formatNumber(n);
}

/** Known kinds in their fixed order, then any others (data from outside the type) by name. */
export function kindOrder(kinds: Iterable<string>): string[] {
  const present = new Set(kinds);
  const known: string[] = TIMELINE_KINDS.filter((k) => present.has(k));
  const others = [...present].filter((k) => !known.includes(k)).sort(byName);
  return [...known, ...others];
}

export function byName(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function kindColor(kind: string): string {
  return (KIND_COLORS as Record<string, string>)[kind] ?? OTHER_COLOR;
}

/** The time span to draw: the events (or buckets) and the phases together, so every phase rule is in view. */
function timeSpan(data: TimelineData): [number, number] {
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  const see = (t: number): void => {
    if (!Number.isFinite(t)) return;
    if (t < lo) lo = t;
    if (t > hi) hi = t;
  };
  for (const e of data.timeline) see(e.tUs);
  const b = data.timelineBuckets;
  if (b !== undefined) {
    see(0);
    for (const s of Object.values(b.pages)) see(s.findLastIndex((x) => x !== 0) * b.widthUs);
  }
  for (const p of data.phases) {
    see(p.startUs);
    see(p.endUs);
  }
  return [lo, hi];
}

export type TimelineData = Pick<DemoReport, 'timeline' | 'phases' | 'timelineBuckets'>;

/**
 * Cumulative pages per kind on a grid of at most `maxPoints` times. An event at t counts at the first
 * grid time >= t, so each point is exact for "pages moved by then"; flat stretches keep only their
 * ends, which draws the same line. One pass, no sort: 10^6 events cost milliseconds. A bucketed
 * timeline (the run had more events than were kept one by one) is read from its buckets instead:
 * a bucket's pages count at its start, where the grid puts them too.
 */
export function aggregateTimeline(data: TimelineData, maxPoints = MAX_POINTS): TimelinePoint[] {
  const [lo, hi] = timeSpan(data);
  if (!(hi >= lo)) return [];
  const n = hi > lo ? Math.max(2, Math.floor(maxPoints)) : 1;
  const step = n > 1 ? (hi - lo) / (n - 1) : 1;
  const sums = new Map<string, Float64Array>();
  const add = (kind: string, tUs: number, pages: number): void => {
    if (!Number.isFinite(tUs) || !Number.isFinite(pages)) return;
    let s = sums.get(kind);
    if (s === undefined) {
      s = new Float64Array(n);
      sums.set(kind, s);
    }
    const b = Math.min(n - 1, Math.max(0, Math.ceil((tUs - lo) / step)));
    s[b] = (s[b] as number) + pages;
  };
  const buckets = data.timelineBuckets;
  if (buckets === undefined) for (const e of data.timeline) add(e.kind, e.tUs, e.pages);
  else
    for (const [kind, s] of Object.entries(buckets.pages))
      s.forEach((pages, i) => {
        if (pages !== 0) add(kind, i * buckets.widthUs, pages);
      });
  const points: TimelinePoint[] = [];
  for (const kind of kindOrder(sums.keys())) {
    const s = sums.get(kind) as Float64Array;
    let total = 0;
    for (let b = 0; b < n; b++) {
      total += s[b] as number;
      const edge = b === 0 || b === n - 1 || s[b] !== 0 || s[b + 1] !== 0;
      if (edge) points.push({ tUs: lo + b * step, kind, pages: total });
    }
  }
  return points;
}

/**
 * Plot keeps global counters for clip, marker and pattern ids, so a second render in one process
 * would number them differently; renumber them per plot in order of appearance.
 */
function stableIds(svg: string, name: string): string {
  const ids = new Map<string, string>();
  return svg.replace(/\bplot-(clip|marker|pattern)-\d+\b/g, (id, what: string) => {
    let stable = ids.get(id);
    if (stable === undefined) {
      stable = `${name}-${what}-${ids.size + 1}`;
      ids.set(id, stable);
    }
    return stable;
  });
}

/** One plot as an `<svg>` string (stable ids, the report's class and width); the sweep report draws with it too. */
export function render(name: string, options: Plot.PlotOptions): string {
  const { document } = parseHTML('<!doctype html><html><body></body></html>');
  // Plot's declarations name DOM types this DOM-less project does not load; only outerHTML is used.
  const svg: { outerHTML: string } = Plot.plot({
    ...options,
    document,
    className: CLASS_NAME,
    width: WIDTH,
    ariaLabel: name,
  });
  return stableIds(svg.outerHTML, name);
}

/** Left margin that fits the longest label at Plot's 10px system-ui font (about 6px a character). */
function labelMargin(labels: readonly string[], min = 40, max = 240): number {
  const longest = labels.reduce((m, l) => Math.max(m, l.length), 0);
  return Math.min(max, Math.max(min, 12 + longest * 6));
}

/** Pixels per character of Plot's 10px system-ui labels (an over-estimate keeps labels apart). */
const CHAR_PX = 6;
const TIMELINE_MARGIN = { left: 56, right: 20 } as const;
const FACET_HEIGHT = 56;

export interface PhaseLabel {
  name: string;
  /** Simulated µs the label points at (its phase's start). */
  tUs: number;
  anchor: 'start' | 'end';
  /** Label row above the plot, 0 the top one. */
  row: number;
  /** The label's extent in pixels across the figure. */
  left: number;
  right: number;
}

/**
 * Where each phase's name goes: right of its rule, or left of it where the name would run off the
 * right edge; on the first row where it clears every label already there. Phases that start at the
 * same time (the build takes no simulated time) thus stack instead of printing over each other.
 */
export function phaseLabels(
  phases: readonly { name: string; startUs: number }[],
  [lo, hi]: readonly [number, number],
  width = WIDTH,
): PhaseLabel[] {
  const x0 = TIMELINE_MARGIN.left;
  const x1 = width - TIMELINE_MARGIN.right;
  const px = (t: number): number => (hi > lo ? x0 + ((t - lo) / (hi - lo)) * (x1 - x0) : x0);
  const rows: { left: number; right: number }[][] = [];
  return phases
    .filter((p) => Number.isFinite(p.startUs))
    .map((p) => {
      const x = px(p.startUs);
      const w = p.name.length * CHAR_PX;
      const anchor = x + 3 + w > width ? ('end' as const) : ('start' as const);
      const left = anchor === 'start' ? x + 3 : x - 3 - w;
      const right = left + w;
      let row = rows.findIndex((r) => r.every((o) => right + 4 <= o.left || left >= o.right + 4));
      if (row < 0) row = rows.push([]) - 1;
      rows[row]?.push({ left, right });
      return { name: p.name, tUs: p.startUs, anchor, row, left, right };
    });
}

/**
 * Cumulative pages per kind, one panel (facet) per kind so that no series hides another: the CPU's
 * faults, the migrations back and the invalidations they cause move in near lockstep and drew one
 * line over the other in a shared panel.
 */
export function timelinePlot(data: TimelineData): string | null {
  const points = aggregateTimeline(data);
  if (points.length === 0) return null;
  const span = timeSpan(data);
  const kinds = kindOrder(points.map((p) => p.kind));
  const last = kinds.map((k) => points.findLast((p) => p.kind === k) as TimelinePoint);
  const phases = data.phases.filter((p) => Number.isFinite(p.startUs));
  const labels = phaseLabels(phases, span);
  const rows = labels.reduce((m, l) => Math.max(m, l.row + 1), 0);
  const marginTop = 10 + 12 * rows;
  // dy is one number per mark: a mark per label.
  const labelMarks = labels.map((l, i) =>
    Plot.text(labels.slice(i, i + 1), {
      x: 'tUs',
      text: 'name',
      frameAnchor: 'top',
      textAnchor: l.anchor,
      dx: l.anchor === 'start' ? 3 : -3,
      dy: 12 * l.row - marginTop + 4,
      // In the top panel only, above its frame.
      fy: () => kinds[0],
    }),
  );
  return render('timeline', {
    height: marginTop + kinds.length * FACET_HEIGHT + 40,
    marginTop,
    marginLeft: TIMELINE_MARGIN.left,
    marginRight: TIMELINE_MARGIN.right,
    x: { label: 'simulated time (µs)', domain: span },
    y: {
      label: 'cumulative pages',
      labelAnchor: 'center',
      labelArrow: 'none',
      tickFormat: compact,
      ticks: 2,
      grid: true,
    },
    fy: { domain: kinds, label: null, axis: null, padding: 0.2 },
    color: { domain: kinds, range: kinds.map(kindColor) },
    marks: [
      Plot.ruleY([0]),
      Plot.ruleX(phases, { x: 'startUs', stroke: '#9498a0', strokeDasharray: '3,3' }),
      ...labelMarks,
      Plot.lineY(points, { x: 'tUs', y: 'pages', stroke: 'kind', fy: 'kind' }),
      Plot.dot(last, { x: 'tUs', y: 'pages', fill: 'kind', fy: 'kind', r: 2.5 }),
      // Each panel's name, on a white halo so that its own line does not cross it out.
      Plot.text(kinds, {
        text: (k: string) => k,
        fy: (k: string) => k,
        frameAnchor: 'top-left',
        dx: 4,
        dy: 2,
        fill: 'currentColor',
        stroke: 'white',
        strokeWidth: 3,
        paintOrder: 'stroke',
      }),
    ],
  });
}

interface ResidencyRow {
  phase: string;
  region: string;
  placement: Placement;
  pages: number;
}

function residencyRows(residency: DemoReport['residency']): ResidencyRow[] {
  return residency.flatMap((r) => [
    { phase: r.phase, region: r.region, placement: 'device' as const, pages: r.devicePages },
    { phase: r.phase, region: r.region, placement: 'system' as const, pages: r.systemPages },
    { phase: r.phase, region: r.region, placement: 'unmapped' as const, pages: r.unmappedPages },
  ]);
}

function firstSeen(values: readonly string[]): string[] {
  return [...new Set(values)];
}

export function residencyPlot(residency: DemoReport['residency']): string | null {
  if (residency.length === 0) return null;
  const phases = firstSeen(residency.map((r) => r.phase));
  const regions = firstSeen(residency.map((r) => r.region));
  return render('residency', {
    height: 40 + regions.length * (phases.length * 20 + 24),
    marginLeft: labelMargin(phases),
    marginRight: labelMargin(regions, 20),
    x: { label: 'pages', grid: true },
    y: { label: null, domain: phases },
    fy: { label: null, domain: regions },
    color: { domain: [...PLACEMENTS], range: PLACEMENTS.map((p) => PLACEMENT_COLORS[p]) },
    marks: [
      Plot.barX(residencyRows(residency), {
        x: 'pages',
        y: 'phase',
        fy: 'region',
        fill: 'placement',
        order: [...PLACEMENTS],
      }),
      Plot.ruleX([0]),
    ],
  });
}

/** The cost terms to draw, largest first: 'total' is their sum, which a bar beside them would dwarf. */
export function costTerms(costs: DemoReport['costs']): { term: string; us: number }[] {
  return Object.entries(costs)
    .filter(([term, us]) => term !== 'total' && Number.isFinite(us))
    .map(([term, us]) => ({ term, us }))
    .sort((a, b) => b.us - a.us || byName(a.term, b.term));
}

export function costsPlot(costs: DemoReport['costs']): string | null {
  const terms = costTerms(costs);
  if (terms.length === 0) return null;
  return render('costs', {
    height: 40 + terms.length * 22,
    marginLeft: labelMargin(terms.map((t) => t.term)),
    marginRight: 90,
    x: { label: 'simulated µs', grid: true },
    y: { label: null, domain: terms.map((t) => t.term) },
    marks: [
      Plot.barX(terms, { x: 'us', y: 'term', fill: '#4269d0' }),
      Plot.text(terms, {
        x: 'us',
        y: 'term',
        text: (t: { us: number }) => `${formatNumber(t.us)} µs`,
        textAnchor: 'start',
        dx: 4,
      }),
      Plot.ruleX([0]),
    ],
  });
}
