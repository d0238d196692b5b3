import { describe, expect, it } from 'vitest';
import { ArgumentError } from '../../src/core/errno.js';
import type { DeviceKernelContext } from '../../src/device/kernel.js';
import type { KernelVersion } from '../../src/mm/kernel.js';
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../../src/mm/mmap.js';
import { parsePolicy } from '../../src/policy/parse.js';
import { policyStats } from '../../src/policy/stats.js';
import { recordPolicyDecisions, whyDidPageMove } from '../../src/policy/trace.js';
import { UvmAccessCounters } from '../../src/policy/uvm/access_counters.js';
import type { UvmPolicy } from '../../src/policy/uvm/uvm.js';
import type { SweepPoint } from '../../src/schema/sweep.js';
import { Simulator } from '../../src/sim/simulator.js';
import { runSweep } from '../../src/sweep/run.js';

const PAGE = 4096;
/** Each HMM API generation with the kernel it runs on. */
const GENERATIONS = [
  ['seed', 'v5.3'],
  ['modern', 'v6.19'],
] as const;
const hex = (n: number): string => `0x${n.toString(16)}`;

describe('UvmAccessCounters (uvm_gpu_access_counters.c)', () => {
  it('counts per 64 KiB region; the threshold-th access posts one notification; the counter then saturates', () => {
    const ac = new UvmAccessCounters(64 * 1024, 3);
    expect([ac.access(16), ac.access(17), ac.access(31)]).toEqual([false, false, true]);
    expect([ac.access(18), ac.access(0)]).toEqual([false, false]);
    expect([ac.count(16), ac.count(0), ac.notifications]).toEqual([3, 1, 1]);
    // Sub-regions of a 64 KiB region are 2 KiB: each accessed page is taken, no other.
    expect(ac.take()).toEqual([{ start: 16 * PAGE, end: 32 * PAGE, count: 3, vpns: [16, 17, 31] }]);
    // Serviced: the region's counter is cleared; the other region's is not.
    expect([ac.count(16), ac.count(0), ac.take()]).toEqual([0, 1, []]);
  });

  it('at 2 MiB a notification names 64 KiB sub-regions: every page of an accessed sixteen', () => {
    const ac = new UvmAccessCounters(2 * 1024 * 1024, 2);
    ac.access(512 + 3);
    expect(ac.access(512 + 40)).toBe(true);
    const [n] = ac.take();
    expect(n?.start).toBe(512 * PAGE);
    expect(n?.end).toBe(1024 * PAGE);
    expect(n?.vpns).toEqual([
      ...Array.from({ length: 16 }, (_, i) => 512 + i),
      ...Array.from({ length: 16 }, (_, i) => 544 + i),
    ]);
  });

  it('the last of 32 sub-regions (bit 31) is kept', () => {
    const ac = new UvmAccessCounters(2 * 1024 * 1024, 1);
    ac.access(511);
    expect(ac.take()[0]?.vpns).toEqual(Array.from({ length: 16 }, (_, i) => 496 + i));
  });
});

describe("the notification's plan (service_va_block_locked)", () => {
  it('pages on the device are stale, pages outside a VMA and thrashing pages stay; runs keep the reason', () => {
    const policy = parsePolicy('uvm:access_counters=on,ac_threshold=8,ac_granularity=64K') as UvmPolicy;
    // Page 5 bounces GPU, CPU, GPU, CPU, GPU within the lapse: detected thrashing at the 3rd event.
    for (const [i, toDevice] of [true, false, true, false, true].entries())
      policy.onMigrated?.({
        toDevice,
        cause: toDevice ? 'fault' : 'cpu-fault',
        nowUs: 100 * i,
        pages: [{ vpn: 5, pfn: 9000 }],
      });
    expect([...policy.thrashing.thrashingPages(0)]).toEqual([5]);
    const posted = [0, 1, 2, 3, 5, 6, 9, 14].map((vpn) => policy.onRemoteAccess?.(vpn));
    expect(posted).toEqual([false, false, false, false, false, false, false, true]);
    const plan = policy.onAccessCounters?.({
      nowUs: 1000,
      faults: [],
      devicePages: 64,
      resident: (vpn) => vpn === 2,
      vma: (addr) => (addr < 14 * PAGE ? { start: 0, end: 14 * PAGE } : null),
    });
    const reason = 'access counter: 8 accesses to [0x0, 0x10000)';
    expect(plan?.migrate.map((m) => [m.start / PAGE, m.end / PAGE, m.cause, m.reason])).toEqual([
      [0, 2, 'access-counter', reason],
      [3, 4, 'access-counter', reason],
      [6, 7, 'access-counter', reason],
      [9, 10, 'access-counter', reason],
    ]);
    // Serviced: nothing pending, the count starts over.
    expect(
      policy.onAccessCounters?.({
        nowUs: 0,
        faults: [],
        devicePages: 64,
        resident: () => false,
        vma: () => null,
      }),
    ).toEqual({
      migrate: [],
    });
    expect(policy.accessCounters?.count(0)).toBe(0);
  });
});

/** A process whose `pages` pages the device maps in system memory (the READ ioctl mirrors them). */
function setup(api: 'seed' | 'modern', policy: string, pages = 64, kernel: KernelVersion = 'v5.3') {
  const sim = new Simulator({ devices: [{ memoryPages: 256 }], ramPages: 8192, kernel });
  const rec = recordPolicyDecisions(sim.trace);
  const p = sim.createProcess();
  const a = p.mmap(pages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
  p.write(a, new Uint8Array(pages * PAGE).fill(1));
  const fd = sim.openDevice(0, p, { api, policy });
  expect(fd.read(a, pages).cpages).toBe(pages);
  return { sim, a, fd, rec };
}

/** One thread loading one byte of pages [first, first + n). */
function loads(a: number, first: number, n: number) {
  return function* (ctx: DeviceKernelContext) {
    let s = 0;
    for (let i = first; i < first + n; i++) s += yield* ctx.load8(a + i * PAGE);
    return s;
  };
}

describe('access-counter migration on a launch (uvm:access_counters=on)', () => {
  for (const [api, kernel] of GENERATIONS)
    it(`${api}: the threshold-th remote access migrates exactly the region's accessed pages, then its counter restarts`, () => {
      const policy0 = 'uvm:access_counters=on,ac_threshold=4,ac_granularity=64K';
      const { sim, a, fd, rec } = setup(api, policy0, 64, kernel);
      expect(a % (64 * 1024)).toBe(0);
      expect(fd.launch(loads(a, 0, 16))).toEqual([16]);
      let c = sim.deviceCounters(0);
      // 16 remote loads: the 4th posts the notification (pages 0-3 accessed); the fault handler migrates them.
      expect([c.remoteAccesses, c.migratedToDevice, c.faults]).toEqual([16, 4, 0]);
      expect(fd.launch(loads(a, 0, 16))).toEqual([16]);
      c = sim.deviceCounters(0);
      // Pages 0-3 are local now; the counter restarted at 0 and the 4th remote access is page 7.
      expect([c.remoteAccesses, c.migratedToDevice, c.faults]).toEqual([28, 8, 0]);
      const policy = fd.policy as UvmPolicy;
      expect(policy.accessCounters?.notifications).toBe(2);
      expect(policyStats(policy).accessCounterPages).toBe(8);
      const reason = `access counter: 4 accesses to [${hex(a)}, ${hex(a + 16 * PAGE)})`;
      expect(rec.events.map((e) => [e.kind, (e.start - a) / PAGE, (e.end - a) / PAGE, e.reason])).toEqual([
        ['migrate', 0, 4, reason],
        ['migrate', 4, 8, reason],
      ]);
      expect(whyDidPageMove(rec.events, a + 6 * PAGE).map((e) => e.reason)).toEqual([reason]);
      expect(whyDidPageMove(rec.events, a + 8 * PAGE)).toEqual([]);
      // The migrated pages are charged as any migration, each notification pass as a fault batch
      // with no faults; the remote term is 28 one-line accesses.
      expect(sim.deviceCosts(0).remoteAccess).toBeCloseTo(28 * (1 + 128 / 25_000), 9);
      expect(sim.deviceCosts(0).faultService).toBe(2 * 20);
    });

  it('at the default 2 MiB granularity the accessed 64 KiB sub-region moves whole, clipped to the VMA', () => {
    const { sim, a, fd, rec } = setup('seed', 'uvm:access_counters=on,ac_threshold=4');
    const region = a - (a % (2 * 1024 * 1024));
    const sub = a - (a % (64 * 1024));
    expect(fd.launch(loads(a, 0, 4))).toEqual([4]);
    const c = sim.deviceCounters(0);
    const first = (sub - a) / PAGE;
    // Pages [sub, sub + 16) of the region that lie in the VMA [a, a + 64 pages).
    const expected = Math.min(first + 16, 64) - Math.max(first, 0);
    expect([c.remoteAccesses, c.migratedToDevice]).toEqual([4, expected]);
    expect(rec.events.map((e) => e.reason)).toEqual([
      `access counter: 4 accesses to [${hex(region)}, ${hex(region + 2 * 1024 * 1024)})`,
    ]);
  });

  it('off by default: plain uvm has no counters and no hook; the same loads stay remote', () => {
    const { sim, a, fd, rec } = setup('seed', 'uvm');
    const policy = fd.policy as UvmPolicy;
    expect([policy.accessCounters, policy.onRemoteAccess, policy.onAccessCounters]).toEqual([
      null,
      undefined,
      undefined,
    ]);
    fd.launch(loads(a, 0, 16));
    fd.launch(loads(a, 0, 16));
    const c = sim.deviceCounters(0);
    expect([c.remoteAccesses, c.migratedToDevice, c.faults]).toEqual([32, 0, 0]);
    expect(rec.events).toEqual([]);
  });
});

describe('uvm access-counter parameters', () => {
  it('defaults: off, threshold 256, 2 MiB; sizes in bytes or with K/M/G', () => {
    expect((parsePolicy('uvm') as UvmPolicy).params).toMatchObject({
      accessCounters: false,
      acThreshold: 256,
      acGranularity: 2 ** 21,
    });
    for (const [text, bytes] of [
      ['64K', 2 ** 16],
      ['64k', 2 ** 16],
      ['2m', 2 ** 21],
      ['16M', 2 ** 24],
      ['16G', 2 ** 34],
      ['2097152', 2 ** 21],
    ] as const)
      expect(
        (parsePolicy(`uvm:access_counters=on,ac_granularity=${text}`) as UvmPolicy).accessCounters
          ?.granularity,
      ).toBe(bytes);
  });

  it('a bad value is one ArgumentError naming the argument and the parameter', () => {
    const bad: [string, RegExp][] = [
      ['uvm:ac_granularity=3M', /'ac_granularity' expects 64K, 2M, 16M, 16G \(or those in bytes\), got '3M'/],
      ['uvm:ac_granularity=4096', /'ac_granularity'.*got '4096'/],
      ['uvm:ac_granularity=2MB', /'ac_granularity'.*got '2MB'/],
      ['uvm:ac_threshold=0', /'ac_threshold' expects an integer in 1\.\.65535, got '0'/],
      ['uvm:ac_threshold=65536', /'ac_threshold'.*got '65536'/],
      ['uvm:access_counters=maybe', /'access_counters' expects on or off, got 'maybe'/],
    ];
    for (const [text, msg] of bad) {
      expect(() => parsePolicy(text, 'policies')).toThrow(ArgumentError);
      expect(() => parsePolicy(text, 'policies')).toThrow(msg);
      expect(() => parsePolicy(text, 'policies')).toThrow(/policies/);
    }
  });
});

describe('off by default changes nothing a sweep reports', () => {
  // Stream over 3 x 21 pages, 2 iterations, 4 threads at 0.5x and 2x: the numbers the sweep gave
  // for `uvm` at commit 46fa258, before access counters and the remote-access term existed.
  const before = [
    {
      simulatedUs: 379.013,
      bytesToDevice: 258048,
      bytesToHost: 86016,
      counters: { tlbHits: 63, tlbMisses: 75, tlbInvalidations: 21, invalidations: 39, invalidatedPages: 21 },
      moved: [63, 21, 0, 21, 30, 84],
    },
    {
      simulatedUs: 1881.584,
      bytesToDevice: 2666496,
      bytesToHost: 2564096,
      counters: {
        tlbHits: 0,
        tlbMisses: 198,
        tlbInvalidations: 58,
        invalidations: 203,
        invalidatedPages: 626,
      },
      moved: [651, 626, 620, 6, 180, 1277],
    },
  ];
  const policies = ['uvm', 'uvm:access_counters=on'];
  const r = runSweep({
    workload: 'stream',
    footprint: 64 * PAGE,
    oversubscription: [0.5, 2],
    policies,
    threads: 4,
    iterations: 2,
  });

  it('uvm: the same time, bytes and counters as before; the device never reads system memory', () => {
    for (const [i, p] of r.points.slice(0, 2).entries()) {
      const b = before[i]!;
      const c = p.counters;
      expect([p.simulatedUs, p.bytesToDevice, p.bytesToHost, c.remoteAccesses]).toEqual([
        b.simulatedUs,
        b.bytesToDevice,
        b.bytesToHost,
        0,
      ]);
      expect(c).toMatchObject(b.counters);
      expect([
        c.migratedToDevice,
        c.migratedToRam,
        c.evictedPages,
        c.cpuFaults,
        c.dmaTransfers,
        c.dmaPages,
      ]).toEqual(b.moved);
    }
  });

  it('turning the counters on where nothing is mapped remotely changes nothing either', () => {
    const strip = (p: SweepPoint) => ({ ...p, index: 0, policy: '' });
    expect(strip(r.points[2]!)).toEqual(strip(r.points[0]!));
    expect(strip(r.points[3]!)).toEqual(strip(r.points[1]!));
  });
});
