import { describe, expect, it } from 'vitest';
import { PAGE_SIZE } from '../../src/core/addr.js';
import { SWEEP_SCHEMA_VERSION, type SweepPoint } from '../../src/schema/sweep.js';
import { checkSweepSpec, mergeSweepRecords, runSweep, type SweepSpec } from '../../src/sweep/index.js';

/** Vector add over 3 x 21 pages, 4 threads, 2 iterations. */
const small: SweepSpec = {
  workload: 'stream',
  footprint: 64 * PAGE_SIZE,
  oversubscription: [1, 2],
  policies: ['none', 'page'],
  threads: 4,
  iterations: 2,
};

describe('one configuration', () => {
  const r = runSweep(small);
  const [none1, none2, page1, page2] = r.points as [SweepPoint, SweepPoint, SweepPoint, SweepPoint];

  it('mirror only: every page faults once, nothing moves, device memory does not matter', () => {
    for (const p of [none1, none2]) {
      expect(p).toMatchObject({
        faults: 63,
        pagesToDevice: 0,
        pagesToHost: 0,
        evictedPages: 0,
        cpuFaults: 0,
      });
      // The cost model's fault term: 20 µs per batch and 0.5 µs per fault (pcie4-a100).
      expect(p.costs.faultService).toBe(20 * p.faultBatches + 0.5 * 63);
    }
    expect(none1.simulatedUs).toBe(none2.simulatedUs);
    expect(none1.devicePages).toBe(63);
    expect(none2.devicePages).toBe(31);
  });

  it('page, fitting: 63 pages migrate once; the host reading c pulls its 21 pages back', () => {
    expect(page1).toMatchObject({
      faults: 63,
      pagesToDevice: 63,
      pagesToHost: 21,
      bytesToDevice: 63 * PAGE_SIZE,
      bytesToHost: 21 * PAGE_SIZE,
      evictedPages: 0,
      cpuFaults: 21,
    });
    expect(page1.residency.map(([, pages]) => pages)).toEqual([63, 63, 42]);
  });

  it("page: a batch's consecutive one-page blocks move in one migrate_vma, one DMA transfer each way", () => {
    // Each of the 18 batches faults one run of consecutive pages of one array; the 21 CPU faults
    // bring a page back each. One migrate_vma per page would make 63 + 21 transfers.
    expect(page1.faultBatches).toBe(18);
    expect(page1.counters.dmaTransfers).toBe(page1.faultBatches + page1.cpuFaults);
  });

  it('page at 2x: least-recently-allocated eviction of a stream evicts every page before its reuse', () => {
    // The second iteration faults every page again: 2 x 63 faults and migrations.
    expect(page2).toMatchObject({ faults: 126, pagesToDevice: 126, evictedPages: 126 - 31 });
    const last = page2.residency.at(-1)?.[1] as number;
    expect(page2.pagesToDevice - page2.pagesToHost).toBe(last);
    expect(page2.pagesToHost).toBe(page2.evictedPages + page2.cpuFaults);
    expect(page2.residency.map(([, pages]) => pages).slice(0, 2)).toEqual([31, 31]);
    // Twice the pages to the device, and evictions besides: more than twice the migration work.
    const moving = (p: SweepPoint): number =>
      ['dma', 'migrateBookkeeping', 'tlbInvalidate'].reduce((t, k) => t + (p.costs[k] ?? 0), 0);
    expect(moving(page2)).toBeGreaterThan(2 * moving(page1));
    expect(page2.simulatedUs).toBeGreaterThan(page1.simulatedUs + none2.simulatedUs);
  });

  it('the record: schema, settings, points in index order, the policy counters at 0', () => {
    expect(r.schema).toBe(SWEEP_SCHEMA_VERSION);
    expect(r.settings).toEqual({
      workload: 'stream',
      footprintBytes: 63 * PAGE_SIZE,
      oversubscription: [1, 2],
      policies: ['none', 'page'],
      costProfile: 'pcie4-a100',
      api: 'seed',
      seed: 1,
      iterations: 2,
      threads: 4,
      configurations: 4,
    });
    expect(r.points.map((p) => [p.index, p.policy, p.oversubscription])).toEqual([
      [0, 'none', 1],
      [1, 'none', 2],
      [2, 'page', 1],
      [3, 'page', 2],
    ]);
    // page and none neither prefetch nor detect thrashing: the svm engine counts nothing for them.
    expect(r.points.every((p) => p.thrashingEvents === 0 && p.prefetchAccuracy === null)).toBe(true);
    expect(Object.keys(page2.policyStats)).toEqual([
      'prefetchedPages',
      'prefetchedUsed',
      'thrashingEvents',
      'throttles',
      'pins',
      'remoteMaps',
      'evictedChunks',
      'queueRestores',
      'stallUs',
      'accessCounterPages',
    ]);
    expect(Object.values(page2.policyStats).every((v) => v === 0)).toBe(true);
    expect(r.shard).toBeUndefined();
  });
});

describe('determinism and shards', () => {
  const spec: SweepSpec = {
    ...small,
    workload: 'random',
    policies: ['page', 'block:2'],
    oversubscription: [1, 1.5, 3],
  };

  it('the same sweep gives the same bytes', () => {
    expect(JSON.stringify(runSweep(spec))).toBe(JSON.stringify(runSweep(spec)));
  });

  it('shards merged are the whole sweep, byte for byte', () => {
    const whole = JSON.stringify(runSweep(spec));
    const shards = [0, 1, 2, 3].map((index) => runSweep(spec, { shard: { index, count: 4 } }));
    expect(shards.map((s) => s.points.map((p) => p.index))).toEqual([[0, 4], [1, 5], [2], [3]]);
    expect(shards[1]?.shard).toEqual({ index: 1, count: 4 });
    expect(JSON.stringify(mergeSweepRecords([shards[3], shards[1], shards[0], shards[2]]))).toBe(whole);
  });

  it('merge refuses missing, repeated or foreign shards, naming --merge', () => {
    const a = runSweep(small, { shard: { index: 0, count: 2 } });
    const b = runSweep(small, { shard: { index: 1, count: 2 } });
    expect(() => mergeSweepRecords([a])).toThrow(
      /invalid argument 'merge': configurations missing \(first 1, 3\)/,
    );
    expect(() => mergeSweepRecords([a, a])).toThrow(/'merge': configuration 0 is in more than one record/);
    const other = { ...b, settings: { ...b.settings, seed: 2 } };
    expect(() => mergeSweepRecords([a, other])).toThrow(/'merge': record 2 is of another sweep/);
    expect(() => mergeSweepRecords([{ schema: 'hmmsim-run/1' }])).toThrow(
      /'merge': record 1 is not a hmmsim-sweep\/1 record/,
    );
    expect(() => mergeSweepRecords([])).toThrow(/'merge'/);
  });
});

describe('bad specs', () => {
  it('are ArgumentErrors naming the setting', () => {
    expect(() => checkSweepSpec({ ...small, policies: ['lru'] })).toThrow(/invalid argument 'policy'/);
    expect(() => checkSweepSpec({ ...small, oversubscription: [0] })).toThrow(/'oversubscription'/);
    expect(() => checkSweepSpec({ ...small, oversubscription: [] })).toThrow(/'oversubscription'/);
    expect(() => checkSweepSpec({ ...small, footprint: 2 ** 36, oversubscription: [1, 0.1] })).toThrow(
      /'oversubscription': level 0.1 gives 16777215\d device pages, more than a simulated device holds/,
    );
    expect(() => checkSweepSpec({ ...small, workload: 'matmul' })).toThrow(/'workload'/);
    expect(() => checkSweepSpec({ ...small, footprint: 100 })).toThrow(/'footprint'/);
    expect(() => checkSweepSpec({ ...small, costProfile: 'x' })).toThrow(/'costProfile'/);
    expect(() => checkSweepSpec({ ...small, api: 'new' as 'seed' })).toThrow(/'api'/);
    expect(() => runSweep(small, { shard: { index: 2, count: 2 } })).toThrow(/'shard'/);
  });
});

describe("today's drivers' policies by name", () => {
  it('uvm, kfd and nouveau run; nouveau migrates nothing on a fault', () => {
    const r = runSweep({ ...small, policies: ['uvm', 'kfd', 'nouveau'], oversubscription: [1] });
    expect(r.points.map((p) => p.policy)).toEqual(['uvm', 'kfd', 'nouveau']);
    expect(r.points[2]).toMatchObject({ pagesToDevice: 0, pagesToHost: 0, cpuFaults: 0, faults: 63 });
    expect(r.points[0]?.pagesToDevice).toBeGreaterThan(0);
    expect(r.points[1]?.pagesToDevice).toBeGreaterThan(0);
  });

  it("the point's prefetch accuracy is the policy's prefetched pages used / prefetched", () => {
    const r = runSweep({
      ...small,
      workload: 'random',
      policies: ['uvm', 'uvm:prefetch=0'],
      oversubscription: [1, 3],
    });
    const [on1, on3, off1] = r.points as [SweepPoint, SweepPoint, SweepPoint, SweepPoint];
    const s = on1.policyStats as { prefetchedPages: number; prefetchedUsed: number };
    expect(s.prefetchedPages).toBeGreaterThan(0);
    expect(on1.prefetchAccuracy).toBe(Math.round((s.prefetchedUsed / s.prefetchedPages) * 1e6) / 1e6);
    expect(on3.prefetchAccuracy as number).toBeLessThan(on1.prefetchAccuracy as number);
    expect(off1.prefetchAccuracy).toBeNull();
  });
});
