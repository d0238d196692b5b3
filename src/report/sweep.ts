/**
 * The HTML report of `hmmsim sweep --report`: one self-contained page from a sweep record — simulated
 * time against oversubscription per policy, migrated bytes, device residency over simulated time per
 * policy, a table of every point and one of each point's simulated time by cost term (device
 * accesses to system memory, `remoteAccess`, among them). Like the demo's report it renders numbers only, with no clock
 * or randomness, so the same record gives the same bytes.
 */

import * as Plot from '@observablehq/plot';
import type { SweepPoint, SweepRecord } from '../schema/sweep.js';
import { formatNumber, render } from './plots.js';
import { escapeHtml, figure, htmlPage, legend, table } from './report.js';

/** Colours per policy position (Observable 10), fixed so a policy keeps its colour across sweeps of one list. */
const POLICY_COLORS = [
  '#4269d0',
  '#efb118',
  '#ff725c',
  '#6cc5b0',
  '#3ca951',
  '#ff8ab7',
  '#a463f2',
  '#97bbf5',
  '#9c6b4e',
  '#9498a0',
];
/** Residency points drawn per line (each line is a run's phases; more add nothing at 640 px). */
export const SWEEP_RESIDENCY_POINTS = 200;
const MIB = 2 ** 20;

function colors(record: SweepRecord): { domain: string[]; range: string[] } {
  const domain = record.settings.policies;
  return { domain, range: domain.map((_, i) => POLICY_COLORS[i % POLICY_COLORS.length] as string) };
}

/** One line per policy of `y` against oversubscription. */
function byLevelPlot(
  name: string,
  record: SweepRecord,
  y: (p: SweepPoint) => number,
  label: string,
): string | null {
  const data = record.points.map((p) => ({ policy: p.policy, x: p.oversubscription, y: y(p) }));
  if (data.length === 0) return null;
  return render(name, {
    height: 280,
    marginLeft: 64,
    x: {
      label: 'oversubscription (footprint / device memory)',
      type: 'log',
      ticks: record.settings.oversubscription,
      tickFormat: (v: number) => `${v}`,
    },
    y: { label, grid: true, tickFormat: (v: number) => formatNumber(v) },
    color: colors(record),
    marks: [
      Plot.line(data, { x: 'x', y: 'y', stroke: 'policy' }),
      Plot.dot(data, { x: 'x', y: 'y', fill: 'policy', r: 2.5 }),
    ],
  });
}

/** Residency: device pages over simulated ms, one facet per policy, one line per level. */
function residencyPlot(record: SweepRecord): string | null {
  const data = record.points.flatMap((p) =>
    thin(p.residency).map(([tUs, pages]) => ({
      policy: p.policy,
      level: `${p.oversubscription}x`,
      ms: tUs / 1000,
      pages,
    })),
  );
  if (data.length === 0) return null;
  const policies = record.settings.policies;
  return render('sweep-residency', {
    height: 40 + 70 * policies.length,
    marginLeft: 64,
    marginRight: 90,
    x: { label: 'simulated ms', grid: true },
    y: { label: 'device pages', tickFormat: (v: number) => formatNumber(v) },
    fy: { domain: policies, label: null },
    color: { legend: false, scheme: 'viridis', domain: record.settings.oversubscription.map((l) => `${l}x`) },
    marks: [Plot.line(data, { x: 'ms', y: 'pages', fy: 'policy', stroke: 'level', z: 'level' })],
  });
}

/** At most SWEEP_RESIDENCY_POINTS of a run's points, evenly spread, the last one kept. */
function thin(points: readonly [number, number][]): [number, number][] {
  if (points.length <= SWEEP_RESIDENCY_POINTS) return [...points];
  const step = points.length / SWEEP_RESIDENCY_POINTS;
  const out: [number, number][] = [];
  for (let i = 0; i < SWEEP_RESIDENCY_POINTS; i++) out.push(points[Math.floor(i * step)] as [number, number]);
  out.push(points[points.length - 1] as [number, number]);
  return out;
}

function pointsTable(record: SweepRecord): string {
  const head = [
    'policy',
    'oversub.',
    'device pages',
    'simulated ms',
    'faults',
    'batches',
    'to device MiB',
    'to host MiB',
    'evicted',
    'CPU faults',
  ];
  const rows = record.points.map((p) => [
    p.policy,
    `${p.oversubscription}`,
    formatNumber(p.devicePages),
    formatNumber(Math.round(p.simulatedUs) / 1000),
    formatNumber(p.faults),
    formatNumber(p.faultBatches),
    formatNumber(Math.round((p.bytesToDevice / MIB) * 10) / 10),
    formatNumber(Math.round((p.bytesToHost / MIB) * 10) / 10),
    formatNumber(p.evictedPages),
    formatNumber(p.cpuFaults),
  ]);
  return table(
    head,
    rows,
    head.map((_, i) => i > 0),
  );
}

/** Each point's simulated µs per cost term, the terms in the order the points give them. */
function costTermsTable(record: SweepRecord): string {
  const terms = [...new Set(record.points.flatMap((p) => Object.keys(p.costs)))];
  const head = ['policy', 'oversub.', ...terms.map((t) => `${t} µs`)];
  const rows = record.points.map((p) => [
    p.policy,
    `${p.oversubscription}`,
    ...terms.map((t) => formatNumber(p.costs[t] ?? 0)),
  ]);
  return table(
    head,
    rows,
    head.map((_, i) => i > 0),
  );
}

function settingsTable(record: SweepRecord): string {
  const s = record.settings;
  const rows: [string, string][] = [
    [
      'workload',
      s.workload + (s.trace !== undefined ? ` (${s.trace.format} trace, crc32 ${s.trace.crc32})` : ''),
    ],
    ['footprint', `${formatNumber(s.footprintBytes / MIB)} MiB`],
    ['oversubscription', s.oversubscription.join(', ')],
    ['policies', s.policies.join(', ')],
    ['cost profile', s.costProfile],
    ['HMM API', s.api],
    ['seed, iterations, threads', `${s.seed}, ${s.iterations}, ${s.threads}`],
    ['configurations', `${record.points.length} of ${s.configurations}`],
  ];
  return table(['setting', 'value'], rows);
}

/** The sweep's report page (see the file comment). */
export function renderSweepReport(record: SweepRecord): string {
  const { domain, range } = colors(record);
  const key = legend(domain.map((p, i) => [p, range[i] as string]));
  const title = `hmmsim sweep: ${record.settings.workload} under ${record.settings.policies.length} policies`;
  return htmlPage(title, [
    `<h1>${escapeHtml(title)}</h1>`,
    `<p class="meta">${escapeHtml(record.schema)}; simulated time is the cost model's (docs/costs.md), not a prediction of run time.</p>`,
    settingsTable(record),
    figure(
      'sweep-time',
      'Simulated time against oversubscription, per policy',
      byLevelPlot('sweep-time', record, (p) => p.simulatedUs / 1000, 'simulated ms'),
      'No points.',
      key,
    ),
    figure(
      'sweep-bytes',
      'Bytes migrated (both ways) against oversubscription, per policy',
      byLevelPlot('sweep-bytes', record, (p) => (p.bytesToDevice + p.bytesToHost) / MIB, 'MiB migrated'),
      'No points.',
      key,
    ),
    figure(
      'sweep-residency',
      'Device-resident pages over simulated time, per policy: one line per oversubscription level, from dark purple (the lowest) to yellow (the highest)',
      residencyPlot(record),
      'No points.',
    ),
    '<h2>Every configuration</h2>',
    pointsTable(record),
    '<h2>Simulated time by cost term</h2>',
    '<p>remoteAccess is the device reading and writing system memory it maps remotely, over the link (docs/costs.md).</p>',
    costTermsTable(record),
  ]);
}
