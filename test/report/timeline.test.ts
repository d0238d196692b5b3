import { describe, expect, it } from 'vitest';
import { runDemo } from '../../src/demo/demo.js';
import { TIMELINE_BUCKETS, Timeline } from '../../src/demo/timeline.js';
import { renderReport, type TimelineKind } from '../../src/report/index.js';
import { KIND_COLORS, phaseLabels, timelinePlot } from '../../src/report/plots.js';
import { SCHEMA_VERSION } from '../../src/schema/index.js';

const SMALL = { listNodes: 3000, treeNodes: 3000, lookups: 300 };
const demo = runDemo(SMALL);

/** The timeline figure's line paths: the facet offset and the stroke of each. */
function lines(svg: string): { offset: number; stroke: string }[] {
  const group = svg.slice(svg.indexOf('aria-label="line"'), svg.indexOf('aria-label="dot"'));
  return [
    ...group.matchAll(/<g transform="translate\(0,([\d.]+)\)"[^>]*><path d="[^"]+" stroke="(#[0-9a-f]+)"/g),
  ].map((m) => ({ offset: Number(m[1]), stroke: m[2] as string }));
}

/** Sum of pages per kind in raw events. */
function pagesByKind(events: { kind: string; pages: number }[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const e of events) out[e.kind] = (out[e.kind] ?? 0) + e.pages;
  return out;
}

describe('the timeline shows every series', () => {
  it("the demo's five kinds each get their own panel, so none hides under another", () => {
    const kinds = Object.keys(pagesByKind(demo.report.timeline)).sort();
    expect(kinds).toEqual([
      'cpu-fault',
      'device-fault',
      'invalidation',
      'migrate-to-device',
      'migrate-to-ram',
    ]);
    const drawn = lines(timelinePlot(demo.report) as string);
    expect(drawn.map((l) => l.stroke).sort()).toEqual(
      kinds.map((k) => KIND_COLORS[k as TimelineKind]).sort(),
    );
    expect(new Set(drawn.map((l) => l.offset)).size).toBe(kinds.length);
  });
});

describe('phase labels', () => {
  it('phases that start together stack on separate rows; labels never collide', () => {
    const labels = phaseLabels(demo.report.phases, [0, demo.report.phases.at(-1)!.endUs]);
    const [build, pass1] = labels;
    expect([build?.name, pass1?.name, build?.tUs, pass1?.tUs]).toEqual(['build', 'device pass 1', 0, 0]);
    expect(build?.row).not.toBe(pass1?.row);
    for (const a of labels)
      for (const b of labels)
        if (a !== b && a.row === b.row)
          expect(a.right <= b.left || b.right <= a.left, `${a.name} / ${b.name}`).toBe(true);
  });

  it('the SVG draws each label where the layout put it: same side, same row', () => {
    const svg = timelinePlot(demo.report) as string;
    const labels = phaseLabels(demo.report.phases, [0, demo.report.phases.at(-1)!.endUs]);
    const drawn = [
      ...svg.matchAll(
        /<g transform="translate\((-?[\d.]+),(-?[\d.]+)\)" aria-label="text"><g transform="translate\(0,1\)" text-anchor="(start|end)"><text transform="translate\(([\d.]+),[\d.]+\)" y="0.71em">([^<]+)<\/text>/g,
      ),
    ].map((m) => ({ name: m[5], dx: Number(m[1]), dy: Number(m[2]), anchor: m[3], x: Number(m[4]) }));
    expect(drawn.map((d) => d.name)).toEqual(labels.map((l) => l.name));
    for (const [i, l] of labels.entries()) {
      const d = drawn[i]!;
      expect(d.anchor).toBe(l.anchor);
      expect(d.x + d.dx).toBeCloseTo(l.anchor === 'start' ? l.left : l.right, 6);
    }
    const rowOf = (name: string) => drawn.find((d) => d.name === name)!.dy;
    expect(rowOf('build')).not.toBe(rowOf('device pass 1'));
  });

  it('a phase starting near the right edge is labelled leftwards, inside the figure', () => {
    const phases = [
      { name: 'build', startUs: 0 },
      { name: 'device pass 1', startUs: 0 },
      { name: 'cpu check', startUs: 99_900 },
    ];
    const labels = phaseLabels(phases, [0, 100_000], 640);
    const check = labels[2]!;
    expect(check.anchor).toBe('end');
    expect(check.left).toBeGreaterThanOrEqual(0);
    expect(check.right).toBeLessThanOrEqual(640);
    expect(labels.slice(0, 2).map((l) => l.anchor)).toEqual(['start', 'start']);
  });
});

describe('a timeline with more events than are kept is bucketed, not cut', () => {
  it('Timeline keeps the first events one by one and every page in its buckets, widening as time goes on', () => {
    const t = new Timeline(3);
    const events = [0, 1, 700, 5000, 5001].map((tUs, i) => ({
      tUs,
      kind: (i % 2 === 0 ? 'device-fault' : 'cpu-fault') as TimelineKind,
      pages: i + 1,
    }));
    const trace = [...events];
    t.drain(trace);
    expect(trace).toEqual([]);
    expect([t.events.length, t.seen, t.cut]).toEqual([3, 5, true]);
    const b = t.buckets();
    // 5001 µs over 512 buckets: the 1 µs width doubled to 16.
    expect(b.widthUs).toBe(16);
    expect(b.events).toBe(5);
    expect(b.pages['device-fault']?.reduce((x, y) => x + y)).toBe(1 + 3 + 5);
    expect(b.pages['cpu-fault']?.reduce((x, y) => x + y)).toBe(2 + 4);
    expect(b.pages['device-fault']?.length).toBe(TIMELINE_BUCKETS);
    // A time the clock cannot produce is counted, not bucketed (it would widen the buckets forever).
    t.add({ tUs: Number.POSITIVE_INFINITY, kind: 'eviction', pages: 1 });
    expect([t.seen, t.buckets().widthUs, t.buckets().pages.eviction]).toEqual([6, 16, undefined]);
    // 5000 and 5001 share a bucket; 700 went to bucket 43 when the width became 16.
    expect([
      b.pages['cpu-fault']?.[312],
      b.pages['device-fault']?.[312],
      b.pages['device-fault']?.[43],
    ]).toEqual([4, 5, 3]);
  });

  it('the demo with a small limit keeps every page of every kind, and the caption says it is bucketed', () => {
    const total = demo.report.timeline.length;
    const cut = runDemo({ ...SMALL, timelineEventsMax: 100 });
    expect(cut.report.timeline.length).toBe(100);
    const b = cut.report.timelineBuckets!;
    expect(b.events).toBe(total);
    const sums = Object.fromEntries(
      Object.entries(b.pages).map(([k, s]) => [k, s.reduce((x, y) => x + y, 0)]),
    );
    expect(sums).toEqual(pagesByKind(demo.report.timeline));
    expect(cut.report.traceDropped).toBeUndefined();
    const html = renderReport(cut.report);
    expect(html).toContain(`${total.toLocaleString('en-US')} events`);
    expect(html).toMatch(
      /<strong>Bucketed<\/strong>: more events than the 100 kept one by one, so each point sums a window of [\d,.]+ µs\./,
    );
    // Every kind is still drawn, to its full total.
    expect(lines(timelinePlot(cut.report) as string)).toHaveLength(Object.keys(sums).length);
    // An uncut run has neither.
    expect([demo.report.timelineBuckets, renderReport(demo.report).includes('Bucketed')]).toEqual([
      undefined,
      false,
    ]);
  });

  it('events the trace dropped are said on the plot', () => {
    const html = renderReport({ ...demo.report, traceDropped: 1234 });
    expect(html).toContain('<strong>1,234 events dropped</strong> by the trace and not plotted.');
  });
});

describe('the report says what made it and what its counters count', () => {
  it('the run record format, which the demo fills, under the version line', () => {
    expect(demo.report.schema).toBe(SCHEMA_VERSION);
    expect(SCHEMA_VERSION).toBe('hmmsim-run/1');
    const html = renderReport({
      ...demo.report,
      producer: { version: '9.8.7', command: 'hmmsim demo --seed 3' },
    });
    expect(html).toContain(
      '<code>hmmsim demo --seed 3</code></p>\n<p class="meta">run record hmmsim-run/1</p>\n',
    );
    const { schema: _, ...unversioned } = demo.report;
    expect(renderReport(unversioned)).not.toContain('run record');
  });

  it('version and command line, when the CLI gives them; a description for every demo counter', () => {
    const html = renderReport({
      ...demo.report,
      producer: { version: '9.8.7', command: 'hmmsim demo --seed 3' },
    });
    expect(html).toContain('<p class="meta">made by hmmsim 9.8.7: <code>hmmsim demo --seed 3</code></p>');
    const described = demo.report.counterDescriptions ?? {};
    expect(Object.keys(described).sort()).toEqual(Object.keys(demo.counters).sort());
    expect(html).toContain('<tr><td>kernel.pgfault</td>');
    expect(html).toMatch(
      /<tr><td>faults<\/td><td class="num">[\d,]+<\/td><td>replayable device faults raised \(fault-buffer entries\)<\/td><\/tr>/,
    );
  });

  it('a run whose working set is far beyond device memory warns, in the result and the report', () => {
    const warned: string[] = [];
    const r = runDemo({ ...SMALL, devicePages: 16, onWarning: (w) => warned.push(w) });
    expect(warned).toEqual(r.warnings);
    expect(r.warnings).toHaveLength(1);
    expect(r.warnings[0]).toMatch(
      /^working set [\d,]+ pages is [\d.]+x device memory \(16 pages\): expect thrashing/,
    );
    expect(renderReport(r.report)).toContain(`<p class="warning">warning: ${r.warnings[0]}</p>`);
    expect(demo.warnings).toEqual([]);
  });
});
