import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import {
  aggregateTimeline,
  type DemoReport,
  escapeHtml,
  formatNumber,
  MAX_POINTS,
  renderReport,
  type TimelineKind,
} from '../../src/report/index.js';

function fixture(): DemoReport {
  return {
    title: 'hmmsim demo: a linked list and a BST shared with a device',
    seed: 42,
    ok: true,
    config: { listNodes: 1000, treeNodes: 2048, policy: 'migrate-on-fault', devicePages: 64 },
    checks: [
      { name: 'list values', ok: true, detail: '1,000 of 1,000 read back' },
      { name: 'tree values', ok: true, detail: '2,048 of 2,048 read back' },
    ],
    counters: { tlbHits: 1234567, faults: 321, migratedToDevice: 96, cpuFaults: 12, dmaBytes: 393216 },
    costs: { fault: 1200.5, migrate: 840, dma: 310.25, invalidate: 42, total: 2392.75 },
    costModel: {
      profile: 'pcie4-x16',
      terms: [
        { name: 'fault', value: '12.5 µs', source: 'docs/costs.md: GPU fault round trip' },
        { name: 'dma', value: '25 GB/s', source: 'PCIe 4.0 x16 effective bandwidth' },
      ],
    },
    phases: [
      { name: 'build', startUs: 0, endUs: 100 },
      { name: 'device walk 1', startUs: 100, endUs: 900 },
      { name: 'cpu update', startUs: 900, endUs: 1200 },
      { name: 'device walk 2', startUs: 1200, endUs: 2000 },
    ],
    timeline: [
      { tUs: 110, kind: 'device-fault', pages: 1 },
      { tUs: 112, kind: 'migrate-to-device', pages: 16 },
      { tUs: 400, kind: 'device-fault', pages: 1 },
      { tUs: 402, kind: 'migrate-to-device', pages: 16 },
      { tUs: 950, kind: 'cpu-fault', pages: 1 },
      { tUs: 951, kind: 'migrate-to-ram', pages: 4 },
      { tUs: 960, kind: 'invalidation', pages: 4 },
      { tUs: 1300, kind: 'eviction', pages: 8 },
    ],
    residency: [
      { phase: 'build', region: 'list nodes', devicePages: 0, systemPages: 16, unmappedPages: 0 },
      { phase: 'build', region: 'tree nodes', devicePages: 0, systemPages: 32, unmappedPages: 0 },
      { phase: 'device walk 1', region: 'list nodes', devicePages: 16, systemPages: 0, unmappedPages: 0 },
      { phase: 'device walk 1', region: 'tree nodes', devicePages: 16, systemPages: 16, unmappedPages: 0 },
      { phase: 'cpu update', region: 'list nodes', devicePages: 12, systemPages: 4, unmappedPages: 0 },
      { phase: 'cpu update', region: 'tree nodes', devicePages: 16, systemPages: 16, unmappedPages: 0 },
    ],
  };
}

/** The `<figure data-plot=name>` element's HTML, or '' when it is missing. */
function figureOf(html: string, name: string): string {
  const m = new RegExp(`<figure class="plot" data-plot="${name}">[\\s\\S]*?</figure>\\n`).exec(html);
  return m?.[0] ?? '';
}

function count(html: string, needle: string): number {
  return html.split(needle).length - 1;
}

/** A deterministic large timeline: 10^6 events spread over the phases. */
function bigTimeline(n: number): DemoReport['timeline'] {
  const kinds: TimelineKind[] = ['device-fault', 'migrate-to-device', 'migrate-to-ram', 'eviction'];
  const events: DemoReport['timeline'] = [];
  for (let i = 0; i < n; i++) {
    events.push({ tUs: (i * 2000) / n, kind: kinds[i % kinds.length] as TimelineKind, pages: 1 + (i % 3) });
  }
  return events;
}

describe('formatNumber and escapeHtml', () => {
  it('groups thousands and trims decimals without the host locale', () => {
    expect(formatNumber(1234567)).toBe('1,234,567');
    expect(formatNumber(999)).toBe('999');
    expect(formatNumber(-1000)).toBe('-1,000');
    expect(formatNumber(2392.75)).toBe('2,392.75');
    expect(formatNumber(0.1 + 0.2)).toBe('0.3');
    expect(formatNumber(-0.0001)).toBe('0');
    expect(formatNumber(Number.NaN)).toBe('NaN');
  });

  it('escapes the five HTML metacharacters', () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  });
});

describe('renderReport', () => {
  const html = renderReport(fixture());

  it('is one complete HTML document', () => {
    expect(html.startsWith('<!doctype html>\n<html lang="en">')).toBe(true);
    expect(html.endsWith('</body>\n</html>\n')).toBe(true);
    expect(count(html, '<html')).toBe(1);
    expect(html).toContain('<title>hmmsim demo: a linked list and a BST shared with a device</title>');
    expect(html).toContain('<p class="meta">seed 42 <span class="badge ok">ok</span></p>');
  });

  it('has the sections in order', () => {
    const order = [
      '<header>',
      '<h2>Checks</h2>',
      'data-plot="timeline"',
      'data-plot="residency"',
      'data-plot="costs"',
      '<h2>Counters</h2>',
      '<h2>Cost model</h2>',
    ].map((s) => html.indexOf(s));
    expect(order.every((i) => i >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
  });

  it('puts exactly one <svg> in each of the three plot figures', () => {
    expect(count(html, '<svg')).toBe(3);
    for (const name of ['timeline', 'residency', 'costs']) {
      const fig = figureOf(html, name);
      expect(count(fig, '<svg'), name).toBe(1);
      expect(count(fig, '<figcaption>'), name).toBe(1);
    }
    expect(figureOf(html, 'timeline')).toContain('Device faults and migrations over time');
    expect(figureOf(html, 'residency')).toContain('Device residency per region');
  });

  it('marks the phases on the timeline and shows one legend entry per kind present', () => {
    const fig = figureOf(html, 'timeline');
    for (const phase of ['build', 'device walk 1', 'cpu update', 'device walk 2']) {
      expect(fig).toContain(`>${phase}</text>`);
    }
    expect(count(fig, '<span class="swatch"')).toBe(6);
    expect(fig).toContain('8 events, 51 pages.');
  });

  it('draws the residency of every region and placement', () => {
    const fig = figureOf(html, 'residency');
    expect(fig).toContain('>list nodes</text>');
    expect(fig).toContain('>tree nodes</text>');
    expect(fig).toContain('device</li>');
    expect(fig).toContain('unmapped</li>');
  });

  it('draws a bar per cost term but not for total, which is in the caption', () => {
    const fig = figureOf(html, 'costs');
    expect(fig).toContain('total 2,392.75 µs.');
    for (const label of ['1,200.5 µs', '840 µs', '310.25 µs', '42 µs'])
      expect(fig).toContain(`>${label}</text>`);
    for (const term of ['fault', 'migrate', 'dma', 'invalidate']) expect(fig).toContain(`>${term}</text>`);
    expect(fig).not.toContain('>total</text>');
  });

  it('lists every counter, sorted by name, with thousands separators (and no description where none is given)', () => {
    const rows = [
      ['cpuFaults', '12'],
      ['dmaBytes', '393,216'],
      ['faults', '321'],
      ['migratedToDevice', '96'],
      ['tlbHits', '1,234,567'],
    ].map(([n, v]) => `<tr><td>${n}</td><td class="num">${v}</td><td></td></tr>`);
    expect(html).toContain(rows.join('\n'));
  });

  it('shows the config, the checks and the cost model', () => {
    expect(html).toContain('<tr><td>listNodes</td><td>1,000</td></tr>');
    expect(html).toContain('<tr><td>policy</td><td>migrate-on-fault</td></tr>');
    expect(html).toContain(
      '<li class="check ok"><span class="mark">✓</span>list values <span class="detail">1,000 of 1,000 read back</span></li>',
    );
    expect(html).toContain('<p>profile <strong>pcie4-x16</strong></p>');
    expect(html).toContain('<tr><td>dma</td><td>25 GB/s</td><td>PCIe 4.0 x16 effective bandwidth</td></tr>');
  });

  it('is self-contained: no scripts, no links, no URLs but the SVG namespace', () => {
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/<link|<img|<iframe|@import|url\(/i);
    const urls = html.match(/https?:\/\/[^\s"'<>)]*/g) ?? [];
    expect(urls.filter((u) => !u.startsWith('http://www.w3.org/'))).toEqual([]);
  });

  it('escapes text everywhere, including inside the plots', () => {
    const data = fixture();
    data.title = '<script>alert(1)</script> & co';
    data.phases[0] = { name: '<script>p</script>', startUs: 0, endUs: 100 };
    data.residency[0] = { ...(data.residency[0] as DemoReport['residency'][0]), region: '<b>r</b>' };
    data.checks.push({ name: 'x"y', ok: false, detail: "it's <broken>" });
    data.ok = false;
    const out = renderReport(data);
    expect(out).not.toContain('<script');
    expect(out).not.toContain('<b>r</b>');
    expect(out).toContain('<h1>&lt;script&gt;alert(1)&lt;/script&gt; &amp; co</h1>');
    expect(out).toContain('>&lt;script&gt;p&lt;/script&gt;</text>');
    expect(out).toContain('x&quot;y <span class="detail">it&#39;s &lt;broken&gt;</span>');
    expect(out).toContain('<span class="badge failed">FAILED</span>');
  });

  it('renders byte-identical documents, in one process and across processes', () => {
    expect(renderReport(fixture())).toBe(html);
    const script =
      "import { renderReport } from './src/report/index.ts';" +
      `process.stdout.write(renderReport(${JSON.stringify(fixture())}));`;
    const other = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      encoding: 'utf8',
      maxBuffer: 16 << 20,
    });
    expect(other).toBe(html);
  });

  it('uses a fixed plot class, not the one of the installed Plot version', () => {
    expect(html).toContain('class="hmmsim-plot"');
    expect(html).not.toMatch(/plot-[0-9a-f]{6}/);
  });

  it('survives empty data', () => {
    const data: DemoReport = {
      ...fixture(),
      checks: [],
      counters: {},
      costs: {},
      costModel: { profile: 'none', terms: [] },
      phases: [],
      timeline: [],
      residency: [],
    };
    const out = renderReport(data);
    expect(count(out, '<svg')).toBe(0);
    expect(figureOf(out, 'timeline')).toContain('<p class="empty">no events</p>');
    expect(figureOf(out, 'residency')).toContain('<p class="empty">no residency samples</p>');
    expect(figureOf(out, 'costs')).toContain('<p class="empty">no cost terms</p>');
    expect(figureOf(out, 'costs')).toContain('total 0 µs.');
    expect(out).toContain('<p class="empty">no counters</p>');
    expect(out).toContain('<p class="empty">no checks</p>');
  });

  it('says "no events" for an empty timeline even when phases exist', () => {
    const out = renderReport({ ...fixture(), timeline: [] });
    expect(figureOf(out, 'timeline')).toContain('<p class="empty">no events</p>');
    expect(count(out, '<svg')).toBe(2);
  });

  it('plots events that all happen at one instant', () => {
    const out = renderReport({
      ...fixture(),
      phases: [],
      timeline: [{ tUs: 5, kind: 'eviction', pages: 3 }],
    });
    expect(count(figureOf(out, 'timeline'), '<svg')).toBe(1);
  });
});

describe('aggregateTimeline', () => {
  it('counts each event at the first grid time at or after it', () => {
    const points = aggregateTimeline(
      {
        phases: [{ name: 'p', startUs: 0, endUs: 10 }],
        timeline: [
          { tUs: 1, kind: 'device-fault', pages: 2 },
          { tUs: 5, kind: 'device-fault', pages: 3 },
          { tUs: 4, kind: 'eviction', pages: 1 },
        ],
      },
      11,
    );
    const fault = points.filter((p) => p.kind === 'device-fault').map((p) => [p.tUs, p.pages]);
    expect(fault).toEqual([
      [0, 0],
      [1, 2],
      [4, 2],
      [5, 5],
      [10, 5],
    ]);
    const eviction = points.filter((p) => p.kind === 'eviction').map((p) => [p.tUs, p.pages]);
    expect(eviction).toEqual([
      [0, 0],
      [3, 0],
      [4, 1],
      [10, 1],
    ]);
  });

  it(`keeps at most ${MAX_POINTS} points per kind and the exact totals`, () => {
    const timeline = bigTimeline(100_000);
    const points = aggregateTimeline({ phases: [], timeline });
    for (const kind of ['device-fault', 'migrate-to-device', 'migrate-to-ram', 'eviction']) {
      const series = points.filter((p) => p.kind === kind);
      expect(series.length).toBeLessThanOrEqual(MAX_POINTS);
      const total = timeline.filter((e) => e.kind === kind).reduce((s, e) => s + e.pages, 0);
      expect(series.at(-1)?.pages).toBe(total);
    }
  });

  // its time is bench/'s report-render-1e6-events (budget 1,000 ms)
  it('renders 10^6 events to well under 1 MB', () => {
    const data = { ...fixture(), timeline: bigTimeline(1_000_000) };
    const out = renderReport(data);
    const svg = figureOf(out, 'timeline');
    expect(count(svg, '<svg')).toBe(1);
    expect(/<figcaption>.*<\/figcaption>/.exec(svg)?.[0]).toContain('1,000,000 events, 1,999,999 pages.');
    expect(Buffer.byteLength(out)).toBeLessThan(1_000_000);
    expect(Buffer.byteLength(svg)).toBeLessThan(200_000);
  });
});
