import { describe, expect, it } from 'vitest';
import { demoCommand, demoJson } from '../../src/cli/demo.js';
import { DEMO_DEFAULTS, runDemo } from '../../src/demo/demo.js';
import { PROGRESS_EVERY } from '../../src/demo/progress.js';
import { roundUs } from '../../src/device/cost.js';
import { SCHEMA_VERSION } from '../../src/schema/index.js';

const SMALL = { listNodes: 5000, treeNodes: 3000, lookups: 300 };

describe('demo progress', () => {
  it('reports within phases, monotonically, from 0 to its total', () => {
    const seen: [number, number][] = [];
    const phases: number[] = [];
    runDemo({
      ...SMALL,
      onProgress: (done, total) => seen.push([done, total]),
      onPhase: () => phases.push(seen.length),
    });
    const total = seen[0]![1];
    expect(seen.every(([, t]) => t === total)).toBe(true);
    expect(seen[0]![0]).toBe(0);
    expect(seen.at(-1)![0]).toBe(total);
    for (let i = 1; i < seen.length; i++) expect(seen[i]![0]).toBeGreaterThanOrEqual(seen[i - 1]![0]);
    // Device pass 1 alone visits 5000 + 3300 nodes and 300 keys: several reports inside it.
    const inPass1 = phases[2]! - phases[1]! - 1;
    expect(inPass1).toBe(Math.floor((5000 + 3300 + 300) / PROGRESS_EVERY));
    // The build counts 3300 tree inserts and reads 5000 + 3300 nodes back; the check reads 5000 + 3150.
    const inBuild = phases[1]! - phases[0]! - 1;
    expect(inBuild).toBe(Math.floor((3300 + 5000 + 3300) / PROGRESS_EVERY));
    const inCheck = seen.length - phases[4]! - 1;
    expect(inCheck).toBe(Math.floor((5000 + 3150) / PROGRESS_EVERY));
  });
});

describe('demo --json', () => {
  const r = runDemo(SMALL);
  r.report.producer = { version: '1.2.3', command: demoCommand({ ...DEMO_DEFAULTS, ...SMALL }) };
  const doc = JSON.parse(JSON.stringify(demoJson(r, '/tmp/x.html'))) as Record<string, unknown>;

  it('keeps its fields and adds the settings, checks, warnings, version and command the report has', () => {
    expect(Object.keys(doc)).toEqual([
      'ok',
      'seed',
      'counters',
      'costs',
      'report',
      'version',
      'command',
      'settings',
      'checks',
      'warnings',
      'traceDropped',
      'schema',
    ]);
    expect(doc.settings).toEqual(r.config);
    expect(doc.checks).toEqual(r.checks);
    expect((doc.checks as unknown[]).length).toBe(24);
    expect([doc.version, doc.warnings, doc.traceDropped, doc.schema]).toEqual([
      '1.2.3',
      [],
      0,
      SCHEMA_VERSION,
    ]);
    expect(doc.command).toBe(
      'hmmsim demo --seed 1 --list-nodes 5000 --tree-nodes 3000 --lookups 300 --threads 64 --policy block:4 --device-pages 4096 --cost-profile pcie4-a100',
    );
  });

  it('prints costs rounded to the nanosecond; the run keeps the exact sums', () => {
    const costs = doc.costs as Record<string, number>;
    for (const [term, us] of Object.entries(r.costs)) expect(costs[term]).toBe(Math.round(us * 1000) / 1000);
    for (const us of Object.values(costs)) expect(String(us)).toMatch(/^\d+(\.\d{1,3})?$/);
    expect(roundUs(23281.190479999965)).toBe(23281.19);
    expect(roundUs(0.0004)).toBe(0);
  });
});
