import { describe, expect, it } from 'vitest';
import {
  type DeviceKernelContext,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  type MigrationPolicy,
  PROT_READ,
  PROT_WRITE,
  Simulator,
} from '../../src/index.js';
import type { KfdPolicy } from '../../src/policy/kfd.js';
import { policyStats } from '../../src/policy/stats.js';
import { recordPolicyDecisions, whyDidPageMove } from '../../src/policy/trace.js';

const PAGE = 4096;
const APIS = ['seed', 'modern'] as const;
/** Today's test_hmm runs on a v6.19 mm. */
const KERNEL = { seed: 'v5.3', modern: 'v6.19' } as const;

/** A process with `pages` pages (page i holds i + 1) and a device of `devicePages` pages. */
function setup(api: 'seed' | 'modern', policy: string | MigrationPolicy, pages = 600, devicePages = 256) {
  const devices = [{ memoryPages: devicePages }];
  const sim = new Simulator({ devices, ramPages: 8192, stepsMax: 20_000_000, kernel: KERNEL[api] });
  const rec = recordPolicyDecisions(sim.trace);
  const p = sim.createProcess();
  const a = p.mmap(pages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
  p.write(
    a,
    Uint8Array.from({ length: pages * PAGE }, (_, i) => (i % PAGE === 0 ? i / PAGE + 1 : 0)),
  );
  const fd = sim.openDevice(0, p, { api, policy });
  return { sim, p, a, fd, rec };
}

function sumPages(a: number, pages: number) {
  return function* (ctx: DeviceKernelContext) {
    let s = 0;
    for (let i = ctx.threadId; i < pages; i += ctx.threads) s += (yield* ctx.load32(a + i * PAGE)) & 0xff;
    return s;
  };
}

/** Reads the first 100 pages with 4 threads; the device counters that tell policies apart. */
function run(api: 'seed' | 'modern', policy: string | MigrationPolicy) {
  const s = setup(api, policy);
  expect(s.fd.launch(sumPages(s.a, 100), { threads: 4 })).toEqual([1225, 1250, 1275, 1300]);
  const c = s.sim.deviceCounters(0);
  return { ...s, c, counts: [c.faults, c.faultBatches, c.migratedToDevice, c.evictedPages, c.pagesMirrored] };
}

describe('a whole launch under each policy, on both API generations (device counters exact)', () => {
  // [faults, fault batches, pages migrated to the device, pages evicted, pages mirrored]
  const table: [string, number[]][] = [
    ['none', [100, 25, 0, 0, 100]],
    ['page', [100, 25, 100, 0, 100]],
    ['block:4', [28, 7, 104, 0, 104]],
    // 64 KiB big pages, then denser subtrees: fewer faults than block:4 for the same pages.
    ['uvm', [20, 5, 104, 0, 104]],
    // threshold 100: no region passes, not even the grown big page: page by page.
    ['uvm:threshold=100', [100, 25, 100, 0, 100]],
    // 2 MiB granules clamped to the 256-page device; the second evicts part of the first.
    ['kfd', [8, 2, 344, 88, 344]],
    ['kfd:granularity=4', [28, 7, 104, 0, 104]],
    // Each batch is a queue eviction; the restore maps the whole ranges (the 600-page VMA) in place.
    ['kfd:xnack=off', [8, 2, 0, 0, 600]],
    ['nouveau', [100, 25, 0, 0, 100]],
  ];
  it.each(APIS)('%s driver', (api) => {
    expect(table.map(([policy]) => [policy, run(api, policy).counts])).toEqual(table);
  });

  it.each(APIS)('uvm counts its prefetches and which the device used (%s driver)', (api) => {
    const { fd } = run(api, 'uvm');
    const st = policyStats(fd.policy);
    // 104 pages moved: 20 faulted, 84 prefetched; the 4 beyond page 100 were never read.
    expect([st.prefetchedPages, st.prefetchedUsed, st.evictedChunks, st.throttles]).toEqual([84, 80, 0, 0]);
  });

  it.each(APIS)(
    'kfd with XNACK off stalls 1 ms per restore, charged to fault servicing (%s driver)',
    (api) => {
      const none = run(api, 'none').sim.deviceCosts(0).faultService;
      const { fd, sim } = run(api, 'kfd:xnack=off');
      expect([policyStats(fd.policy).queueRestores, policyStats(fd.policy).stallUs]).toEqual([2, 2000]);
      // 8 faults in 2 batches instead of 100 in 25: 23 batches and 92 faults fewer, plus the two stalls.
      expect(sim.deviceCosts(0).faultService).toBeCloseTo(none - 23 * 20 - 92 * 0.5 + 2000, 9);
    },
  );

  it.each(APIS)("today's two-member policy object works unchanged, as 'page' (%s driver)", (api) => {
    const mine: MigrationPolicy = {
      name: 'mine',
      onDeviceFault: ({ addr }) => ({ start: addr, end: addr + PAGE }),
    };
    const r = run(api, mine);
    expect(r.counts).toEqual([100, 25, 100, 0, 100]);
    expect(r.rec.events[0]).toMatchObject({ kind: 'migrate', policy: 'mine', device: 0 });
  });
});

describe('UVM under oversubscription: whole root chunks go, least recently allocated first', () => {
  it.each(APIS)('2048 pages through a 1024-page device (%s driver)', (api) => {
    const { fd, sim, a, rec } = setup(api, 'uvm', 2048, 1024);
    fd.launch(sumPages(a, 2048), { threads: 4 });
    const c = sim.deviceCounters(0);
    expect([c.faults, c.faultBatches, c.migratedToDevice, c.evictedPages]).toEqual([96, 24, 2048, 1024]);
    expect(policyStats(fd.policy).evictedChunks).toBe(2);
    const evictions = rec.events.filter((e) => e.kind === 'evict');
    expect(evictions.map((e) => e.vpns?.length)).toEqual([512, 512]);
    expect(evictions.every((e) => /^root chunk \d+ \(512 pages\), LRU position 0, /.test(e.reason))).toBe(
      true,
    );
    // The first chunk evicted holds the first pages the launch read.
    expect(evictions[0]?.vpns).toContain(a / PAGE);
  });
});

describe('UVM thrashing on a page the CPU and the device take turns on', () => {
  it.each(APIS)('detected at the third bounce, then throttled for a nap (%s driver)', (api) => {
    const { fd, sim, p, a, rec } = setup(api, 'uvm', 16, 1024);
    for (let k = 0; k < 30; k++) {
      fd.launch(sumPages(a, 1), { threads: 1 });
      p.write(a, new Uint8Array([k]));
    }
    const st = policyStats(fd.policy);
    expect([st.thrashingEvents, st.throttles, st.stallUs]).toEqual([2, 1, 500]);
    const c = sim.deviceCounters(0);
    expect([c.faults, c.cpuFaults]).toEqual([31, 30]);
    const why = whyDidPageMove(rec.events, a).map((e) => e.kind);
    expect(why.slice(0, 6)).toEqual([
      'migrate',
      'migrate-back',
      'migrate',
      'migrate-back',
      'migrate',
      'thrashing',
    ]);
    expect(why).toContain('throttle');
    expect(rec.events.find((e) => e.kind === 'throttle')?.reason).toMatch(
      /^page thrashing: throttled until [\d.]+ µs \(throttling period 1\)$/,
    );
  });

  it('uvm:thrashing=off never throttles', () => {
    const { fd, p, a } = setup('seed', 'uvm:thrashing=off', 16, 1024);
    for (let k = 0; k < 30; k++) {
      fd.launch(sumPages(a, 1), { threads: 1 });
      p.write(a, new Uint8Array([k]));
    }
    expect([policyStats(fd.policy).thrashingEvents, policyStats(fd.policy).throttles]).toEqual([0, 0]);
  });
});

describe('why did page P move', () => {
  it.each(APIS)('a prefetched page, then a CPU read that takes it back (%s driver)', (api) => {
    const { fd, p, a, rec } = setup(api, 'uvm');
    fd.launch(sumPages(a, 4), { threads: 4 });
    expect(p.read(a + 5 * PAGE, 1)).toEqual(new Uint8Array([6]));
    const why = whyDidPageMove(rec.events, a + 5 * PAGE);
    expect(why.map((e) => e.kind)).toEqual(['prefetch', 'migrate-back']);
    expect(why[0]?.reason).toMatch(
      /^subtree \[0x[0-9a-f]+, 0x[0-9a-f]+\) 8\/8 = 100% resident or faulted > 51% \(fault at 0x/,
    );
    expect(whyDidPageMove(rec.events, a + 5 * PAGE, 1)).toEqual([]);
    expect(() => whyDidPageMove(rec.events, -1)).toThrow(/invalid argument 'addr'/);
  });
});

describe('KFD attributes and nouveau', () => {
  it.each(APIS)(
    'a range preferring system memory is mapped in place; a prefetch location moves its range (%s driver)',
    (api) => {
      const { fd, sim, a } = setup(api, 'kfd');
      const kfd = fd.policy as KfdPolicy;
      kfd.setAttributes(a, a + 64 * PAGE, { preferredLoc: 'sysmem' });
      kfd.setAttributes(a + 512 * PAGE, a + 544 * PAGE, { prefetchLoc: 'gpu' });
      fd.launch(sumPages(a, 64), { threads: 4 });
      const c = sim.deviceCounters(0);
      // 64 faults mapped in place; the prefetch range's 32 pages moved at the first batch.
      expect([
        c.faults,
        c.migratedToDevice,
        policyStats(kfd).remoteMaps,
        policyStats(kfd).prefetchedPages,
      ]).toEqual([64, 32, 64, 32]);
      expect(() => kfd.setAttributes(a, a + 1, {})).toThrow(/invalid argument 'end'/);
      expect(() => kfd.setAttributes(a, a + PAGE, { granularity: 19 })).toThrow(
        /invalid argument 'granularity'/,
      );
    },
  );

  it.each(APIS)(
    'nouveau never migrates on a fault and never evicts: a migration to a full device moves what fits (%s driver)',
    (api) => {
      const { fd, sim, a } = setup(api, 'nouveau', 64, 16);
      // The migration moves what fits and reports that the rest did not move (test_hmm's MIGRATE).
      expect(() => fd.migrate(a, 32)).toThrow(/ENOENT/);
      fd.launch(sumPages(a, 64), { threads: 4 });
      const c = sim.deviceCounters(0);
      expect([c.migratedToDevice, c.evictedPages, c.faults]).toEqual([16, 0, 48]);
    },
  );
});
