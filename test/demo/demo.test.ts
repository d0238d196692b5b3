import { describe, expect, it } from 'vitest';
import { ArgumentError } from '../../src/core/errno.js';
import { type DemoOptions, runDemo } from '../../src/demo/demo.js';
import { renderReport } from '../../src/report/index.js';

const SMALL: DemoOptions = { listNodes: 3000, treeNodes: 3000, lookups: 600, threads: 16 };

describe('the demo (small size)', () => {
  it('every check passes: device results, CPU reads, kernel books and mirror coherence after each phase', () => {
    const r = runDemo(SMALL);
    const failed = r.checks.filter((c) => !c.ok);
    expect(failed).toEqual([]);
    expect(r.ok).toBe(true);
    const names = r.checks.map((c) => c.name);
    for (const phase of ['build', 'device pass 1', 'cpu update', 'device pass 2', 'cpu check']) {
      expect(names).toContain(`kernel books after ${phase}`);
      expect(names).toContain(`mirror coherence after ${phase}`);
    }
    expect(names.filter((n) => n.startsWith('listWalk'))).toHaveLength(2);
    expect(names).toContain('CPU reads device-written sums');
    expect(names).toContain('CPU frees whole pages (MADV_DONTNEED)');
    expect(
      r.checks.find((c) => c.name === "list 'list nodes'" && /prefixes match/.test(c.detail))?.detail,
    ).toBe('3,000 prefixes match');
  });

  it('with migration: pages go to the device, CPU faults bring them back, and the DMA engine moved both ways', () => {
    const c = runDemo({ ...SMALL, policy: 'block:4' }).counters;
    expect(c.migratedToDevice).toBeGreaterThan(0);
    expect(c.cpuFaults).toBeGreaterThan(0);
    expect(c.migratedToRam).toBe(c.cpuFaults! + c.evictedPages!);
    expect(c.dmaPages).toBe(c.migratedToDevice! + c.migratedToRam!);
    expect(c.dmaBytes).toBe(c.dmaPages! * 4096);
    expect(c.evictedPages).toBe(0);
    expect(c.faultsFatal).toBe(0);
  });

  it("mirroring alone ('none'): nothing migrates, nothing is copied, and the CPU never faults on a device page", () => {
    const r = runDemo({ ...SMALL, policy: 'none' });
    expect(r.ok).toBe(true);
    const c = r.counters;
    expect([c.migratedToDevice, c.migratedToRam, c.cpuFaults, c.dmaBytes]).toEqual([0, 0, 0, 0]);
    expect(c.pagesMirrored).toBeGreaterThan(0);
    expect(c.invalidatedPages).toBeGreaterThan(0); // the CPU's MADV_DONTNEED and COW reached the mirror
    expect(r.report.residency.every((x) => x.devicePages === 0)).toBe(true);
  });

  it('a device smaller than the working set still works: pages are evicted back to system memory', () => {
    const r = runDemo({ ...SMALL, policy: 'block:4', devicePages: 32 });
    expect(r.ok).toBe(true);
    expect(r.counters.evictedPages).toBeGreaterThan(0);
    expect(Math.max(...r.report.residency.map((x) => x.devicePages))).toBeLessThanOrEqual(32);
  });

  it('is deterministic: the same seed gives the same counters, costs and report, byte for byte', () => {
    const a = runDemo({ ...SMALL, seed: 7 });
    const b = runDemo({ ...SMALL, seed: 7 });
    expect(JSON.stringify(b.counters)).toBe(JSON.stringify(a.counters));
    expect(b.costs).toEqual(a.costs);
    expect(renderReport(b.report)).toBe(renderReport(a.report));
    const c = runDemo({ ...SMALL, seed: 8 });
    expect(c.checks.find((x) => x.name.startsWith('listWalk'))!.detail).not.toBe(
      a.checks.find((x) => x.name.startsWith('listWalk'))!.detail,
    );
  });

  it('the report data: phases in order on the cost clock, a timeline of every kind that happened, residency per region', () => {
    const r = runDemo(SMALL);
    expect(r.report.phases.map((p) => p.name)).toEqual([
      'build',
      'device pass 1',
      'cpu update',
      'device pass 2',
      'cpu check',
    ]);
    for (let i = 1; i < r.report.phases.length; i++)
      expect(r.report.phases[i]!.startUs).toBe(r.report.phases[i - 1]!.endUs);
    expect(r.report.phases.at(-1)!.endUs).toBe(r.costs.total);
    const kinds = new Set(r.report.timeline.map((e) => e.kind));
    for (const k of ['device-fault', 'migrate-to-device', 'migrate-to-ram', 'invalidation', 'cpu-fault'])
      expect(kinds).toContain(k);
    const faultPages = r.report.timeline
      .filter((e) => e.kind === 'device-fault')
      .reduce((s, e) => s + e.pages, 0);
    expect(faultPages).toBe(r.counters.faults);
    expect(new Set(r.report.residency.map((x) => x.region))).toEqual(
      new Set(['list nodes', 'tree nodes', 'lookup arrays']),
    );
  });

  it('rejects bad sizes and policies with an ArgumentError naming the option', () => {
    expect(() => runDemo({ listNodes: 0 })).toThrow(ArgumentError);
    expect(() => runDemo({ listNodes: 0 })).toThrow(/listNodes/);
    expect(() => runDemo({ devicePages: 1.5 })).toThrow(/devicePages/);
    expect(() => runDemo({ policy: 'sometimes' })).toThrow(/policy/);
    expect(() => runDemo({ seed: -1 })).toThrow(/seed/);
  });
});

describe("the demo on today's API (--api modern)", () => {
  const TINY: DemoOptions = { listNodes: 2000, treeNodes: 2000, lookups: 500, threads: 8, devicePages: 64 };

  it('every check passes on test_hmm, and the device does what it does on the seed driver', () => {
    const seed = runDemo(TINY);
    const modern = runDemo({ ...TINY, api: 'modern' });
    expect(modern.checks.filter((c) => !c.ok)).toEqual([]);
    expect(modern.ok).toBe(true);
    // The same kernels, faults and policy: the same pages mirrored and moved to the device, the same TLB traffic.
    for (const k of ['faults', 'faultBatches', 'migratedToDevice', 'cpuFaults', 'tlbHits', 'tlbMisses'])
      expect([k, modern.counters[k]]).toEqual([k, seed.counters[k]]);
    expect(modern.counters.migratedToDevice).toBe(72);
    // test_hmm's release evicts what is still in device memory (744dd97752ef, "lib: test_hmm: evict
    // device pages on file close to avoid use-after-free"): every page comes back, where the seed
    // dmirror brings back only those the CPU faults on.
    expect([seed.counters.migratedToRam, modern.counters.migratedToRam]).toEqual([35, 72]);
    expect(modern.config['HMM API']).toBe("today's (test_hmm, v6.19 mm)");
    expect(seed.config['HMM API']).toBeUndefined();
  });

  it("refuses an api that is neither 'seed' nor 'modern', naming it", () => {
    expect(() => runDemo({ ...TINY, api: 'v7' as never })).toThrow(ArgumentError);
    expect(() => runDemo({ ...TINY, api: 'v7' as never })).toThrow(/'api'/);
  });
});
