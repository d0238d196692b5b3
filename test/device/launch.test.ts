import { describe, expect, it } from 'vitest';
import { coherenceViolations, tlbViolation } from '../../src/check/coherence.js';
import type { DeviceTlb } from '../../src/device/tlb.js';
import { svmFaultHandler } from '../../src/drivers/svm/fault.js';
import { svmModernFaultHandler } from '../../src/drivers/svm/modern.js';
import { TestHmmDmirror } from '../../src/drivers/test_hmm/dmirror.js';
import {
  ArgumentError,
  type DeviceKernelContext,
  DeviceKernelFault,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  PROT_READ,
  PROT_WRITE,
  type Process,
  Simulator,
} from '../../src/index.js';
import type { Task } from '../../src/sched/index.js';
import type { DeviceFile } from '../../src/sim/devicefile.js';

const PAGE = 4096;

/**
 * Both drivers run the same kernels with the same results: the seed-API dmirror (drivers/svm/fault.ts)
 * and today's test_hmm on a v6.19 machine (drivers/svm/modern.ts).
 */
const APIS = ['seed', 'modern'] as const;
type Api = (typeof APIS)[number];

/** A process with `pages` pages, page i holding the u32 i + 1 at offset 0, and the device open on `api`. */
function setup(
  api: Api,
  pages: number,
  devicePages = 1024,
  policy = 'none',
  kind: 'private' | 'coherent' = 'private',
) {
  const kernel = api === 'modern' ? 'v6.19' : undefined;
  const sim = new Simulator({
    seed: 1,
    ramPages: 4096,
    kernel,
    devices: [{ memoryPages: devicePages, kind }],
  });
  const p = sim.createProcess();
  const a = p.mmap(pages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
  for (let i = 0; i < pages; i++) p.write(a + i * PAGE, u32(i + 1));
  const fd = sim.openDevice(0, p, { api, policy });
  return { sim, p, a, fd };
}

function u32(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v, true);
  return b;
}

function readU32(p: Process, addr: number): number {
  return new DataView(p.read(addr, 4).buffer).getUint32(0, true);
}

/** Each thread sums the first u32 of pages threadId, threadId + threads, ... */
function sumPages(a: number, pages: number) {
  return function* (ctx: DeviceKernelContext) {
    let s = 0;
    for (let i = ctx.threadId; i < pages; i += ctx.threads) s += yield* ctx.load32(a + i * PAGE);
    return s;
  };
}

describe.each(APIS)('device kernels: loads and stores through the device MMU (%s driver)', (api) => {
  it('one thread: each page is a miss, a fault, a batch, a replay and a retried miss that fills the TLB', () => {
    const { sim, a, fd } = setup(api, 8);
    expect(fd.launch(sumPages(a, 8))).toEqual([36]);
    const c = sim.deviceCounters(0);
    expect([c.tlbMisses, c.tlbHits, c.faults, c.faultBatches, c.replays, c.retries, c.pagesMirrored]).toEqual(
      [16, 0, 8, 8, 8, 8, 8],
    );
    // Again: every translation is cached now.
    expect(fd.launch(sumPages(a, 8))).toEqual([36]);
    const d = sim.deviceCounters(0);
    expect([d.tlbHits, d.tlbMisses, d.faults]).toEqual([8, 16, 8]);
  });

  it('eight threads fault together: one batch of 8, one populate, one replay', () => {
    const { sim, a, fd } = setup(api, 8);
    expect(fd.launch(sumPages(a, 8), { threads: 8 })).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    const c = sim.deviceCounters(0);
    expect([c.faults, c.faultBatches, c.replays, c.retries, c.faultsDuplicate]).toEqual([8, 1, 1, 8, 0]);
  });

  it('threads faulting on one page are de-duplicated within the batch', () => {
    const { sim, a, fd } = setup(api, 1);
    const r = fd.launch(
      function* (ctx) {
        return yield* ctx.load32(a);
      },
      { threads: 4 },
    );
    expect(r).toEqual([1, 1, 1, 1]);
    const c = sim.deviceCounters(0);
    expect([c.faults, c.faultBatches, c.faultsDuplicate, c.pagesMirrored]).toEqual([4, 1, 3, 1]);
  });

  it('stores of every width land little-endian in the CPU view, and loads read them back', () => {
    const { p, a, fd } = setup(api, 2);
    const [r] = fd.launch(function* (ctx) {
      yield* ctx.store8(a + 8, 0xab);
      yield* ctx.store16(a + 10, 0xbeef);
      yield* ctx.store32(a + 12, 0xdeadbeef);
      yield* ctx.store64(a + 16, 0x0123456789abcdefn);
      yield* ctx.storePtr(a + 24, a + PAGE);
      yield* ctx.storeBytes(a + PAGE - 2, new Uint8Array([1, 2, 3, 4])); // crosses into page 1
      const ptr = yield* ctx.loadPtr(a + 24);
      return [
        yield* ctx.load8(a + 8),
        yield* ctx.load16(a + 10),
        yield* ctx.load32(a + 12),
        yield* ctx.load64(a + 16),
        ptr,
        yield* ctx.load32(ptr),
        [...(yield* ctx.loadBytes(a + PAGE - 2, 4))],
      ];
    });
    expect(r).toEqual([0xab, 0xbeef, 0xdeadbeef, 0x0123456789abcdefn, a + PAGE, 0x0403, [1, 2, 3, 4]]);
    expect([...p.read(a + 8, 24)]).toEqual([
      0xab,
      0,
      0xef,
      0xbe,
      0xef,
      0xbe,
      0xad,
      0xde,
      0xef,
      0xcd,
      0xab,
      0x89,
      0x67,
      0x45,
      0x23,
      0x01,
      ...[...u32((a % 2 ** 32) + PAGE)].slice(0, 4),
      ...[...u32(Math.floor(a / 2 ** 32))],
    ]);
    expect(readU32(p, a + PAGE)).toBe(0x0403);
  });

  it('a misaligned access, an unmapped address and a write to read-only memory kill the kernel', () => {
    const { sim, p, a, fd } = setup(api, 2);
    const misaligned = () =>
      fd.launch(function* (ctx) {
        return yield* ctx.load32(a + 2);
      });
    expect(misaligned).toThrow(DeviceKernelFault);
    expect(misaligned).toThrow(/aligned/);
    try {
      fd.launch(function* (ctx) {
        return yield* ctx.load8(a + 64 * PAGE);
      });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(DeviceKernelFault);
      expect((e as DeviceKernelFault).reason).toBe('unmapped');
      expect((e as DeviceKernelFault).addr).toBe(a + 64 * PAGE);
      expect((e as DeviceKernelFault).code).toBe('EFAULT');
    }
    p.mprotect(a, 2 * PAGE, PROT_READ);
    expect(() =>
      fd.launch(function* (ctx) {
        yield* ctx.store32(a, 1);
      }),
    ).toThrow(expect.objectContaining({ name: 'DeviceKernelFault', write: true, reason: 'unmapped' }));
    expect(sim.deviceCounters(0).faultsFatal).toBe(2);
  });

  it('a fatal fault in one thread stops the others at their next access', () => {
    const { a, fd } = setup(api, 1);
    let spins = 0;
    expect(() =>
      fd.launch(
        function* (ctx) {
          if (ctx.threadId === 0) yield* ctx.load8(a + 100 * PAGE);
          for (;;) {
            yield* ctx.load8(a);
            if (++spins > 1000) return;
          }
        },
        { threads: 2 },
      ),
    ).toThrow(DeviceKernelFault);
    expect(spins).toBeLessThan(1000);
  });

  it('bad arguments are ArgumentErrors naming them', () => {
    const { a, fd } = setup(api, 1);
    expect(() => fd.launch(sumPages(a, 1), { threads: 0 })).toThrow(/threads/);
    expect(() =>
      fd.launch(function* (ctx) {
        yield* ctx.store8(a, 256);
      }),
    ).toThrow(ArgumentError);
    expect(() => fd.setPolicy('block:99')).toThrow(/policy/);
  });

  it('munmap invalidates the device mapping and its TLB entry; the next access is fatal', () => {
    const { sim, p, a, fd } = setup(api, 4);
    fd.launch(sumPages(a, 4));
    expect((fd.driver.tlb as DeviceTlb).size).toBe(4);
    p.munmap(a, PAGE);
    const c = sim.deviceCounters(0);
    expect([c.invalidatedPages, c.tlbInvalidations]).toEqual([1, 1]);
    expect((fd.driver.tlb as DeviceTlb).size).toBe(3);
    expect(() => fd.launch(sumPages(a, 1))).toThrow(DeviceKernelFault);
  });

  it('the coherence checker reports a TLB entry the page table no longer backs', () => {
    const { a, fd } = setup(api, 2);
    fd.launch(sumPages(a, 2));
    const m = {
      name: 'dev0',
      mm: fd.driver.mm,
      pt: fd.driver.pt,
      tlb: fd.driver.tlb,
      owns: () => false,
    };
    expect(tlbViolation(m)).toBeNull();
    fd.driver.pt.erase(a / PAGE); // as a driver that forgets the TLB would
    expect(tlbViolation(m)).toMatch(
      /stale TLB entry at 0x[0-9a-f]+: TLB pfn \d+ rw, device page table no entry/,
    );
  });
});

describe.each(APIS)('the migration policy hook (%s driver)', (api) => {
  it("'page' migrates each faulting page; a device smaller than the working set evicts the oldest", () => {
    const { sim, p, a, fd } = setup(api, 8, 4, 'page');
    expect(fd.launch(sumPages(a, 8))).toEqual([36]);
    const c = sim.deviceCounters(0);
    expect([c.migratedToDevice, c.evictedPages, c.migratedToRam, c.dmaTransfers, c.dmaPages]).toEqual([
      8, 4, 4, 12, 12,
    ]);
    // Pages 4..7 are on the device; 0..3 went back to system memory.
    expect([0, 3, 4, 7].map((i) => p.pte(a + i * PAGE).kind)).toEqual([
      'present',
      'present',
      'device-private',
      'device-private',
    ]);
    // A CPU touch brings a page back, with its data.
    expect(readU32(p, a + 7 * PAGE)).toBe(8);
    const d = sim.deviceCounters(0);
    expect([d.cpuFaults, d.migratedToRam]).toEqual([1, 5]);
    expect(incoherent(sim, fd)).toEqual([]);
  });

  it("'block:2' migrates aligned blocks of 4 pages, one fault each", () => {
    const { sim, a, fd } = setup(api, 16, 8, 'block:2');
    expect(fd.launch(sumPages(a, 16))).toEqual([136]);
    const c = sim.deviceCounters(0);
    expect([c.faults, c.migratedToDevice, c.evictedPages, c.retries]).toEqual([4, 16, 8, 4]);
  });

  it("'none' mirrors only: nothing moves and the DMA engine is idle", () => {
    const { sim, a, fd } = setup(api, 8, 4, 'none');
    fd.launch(sumPages(a, 8));
    const c = sim.deviceCounters(0);
    expect([c.migratedToDevice, c.dmaBytes, c.pagesMirrored]).toEqual([0, 0, 8]);
  });

  it('a custom policy object is used as given', () => {
    const { sim, a, fd } = setup(api, 8, 16);
    const asked: number[] = [];
    fd.setPolicy({
      name: 'evens',
      onDeviceFault: ({ addr }) => {
        asked.push((addr - a) / PAGE);
        return ((addr - a) / PAGE) % 2 === 0 ? { start: addr, end: addr + PAGE } : null;
      },
    });
    fd.launch(sumPages(a, 8));
    expect(asked).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(sim.deviceCounters(0).migratedToDevice).toBe(4);
  });

  it('a policy answer that does not hold the faulting page is an ArgumentError naming the policy', () => {
    const { a, fd } = setup(api, 4, 16);
    fd.setPolicy({
      name: 'off-by-one',
      onDeviceFault: ({ addr }) => ({ start: addr + PAGE, end: addr + 2 * PAGE }),
    });
    expect(() => fd.launch(sumPages(a, 1))).toThrow(/policy.*off-by-one\.onDeviceFault returned/);
  });

  it('the cost clock charges what happened', () => {
    const { sim, a, fd } = setup(api, 4, 16, 'page');
    fd.launch(sumPages(a, 4));
    const c = sim.deviceCosts(0);
    expect(c.faultService).toBe(4 * 20.5);
    // 4 transfers of one page: 1.5 µs + 4096 B / 25 GB/s each.
    expect(c.dma).toBeCloseTo(4 * (1.5 + 4096 / 25_000), 9);
    expect(c.migrateBookkeeping).toBe(4 * 2.25);
    expect(c.total).toBeCloseTo(
      c.faultService + c.dma + c.migrateBookkeeping + c.tlbInvalidate + c.cpuFault + c.ptWalk,
      9,
    );
  });
});

/** The coherence checker's findings for the drivers of `fds` (none expected). */
function incoherent(sim: Simulator, ...fds: DeviceFile[]): string[] {
  const views = fds.map((fd, i) => {
    const d = fd.driver;
    return { name: `fd${i}`, mm: d.mm, pt: d.pt, tlb: d.tlb, owns: (pfn: number) => d.owns(pfn) };
  });
  return coherenceViolations(sim.kernel, views);
}

describe("today's test_hmm under the svm engine", () => {
  it("the registry hands each API its own service, and each refuses the other API's driver", () => {
    const { fd } = setup('modern', 1);
    expect(fd.driver).toBeInstanceOf(TestHmmDmirror);
    expect(() => svmFaultHandler(fd.driver)).toThrow(ArgumentError);
    const seed = setup('seed', 1);
    expect(() => svmModernFaultHandler(seed.fd.driver)).toThrow(
      /modern svm engine services today's test_hmm/,
    );
    const sim = new Simulator({ kernel: 'v6.19', devices: [{ memoryPages: 4 }] });
    let given: unknown;
    sim.drivers.registerModern('spy', (ctx) => {
      given = ctx.faultService;
      return new TestHmmDmirror(ctx);
    });
    sim.openDevice(0, sim.createProcess(), { api: 'modern', variant: 'spy' });
    expect(given).toBe(svmModernFaultHandler);
  });

  it('a coherent device: migrated pages stay CPU-mapped (present PTEs on device pages), evicted ones go back', () => {
    const { sim, p, a, fd } = setup('modern', 8, 4, 'page', 'coherent');
    expect(fd.launch(sumPages(a, 8))).toEqual([36]);
    const c = sim.deviceCounters(0);
    expect([c.migratedToDevice, c.evictedPages, c.cpuFaults]).toEqual([8, 4, 0]);
    const owned = [0, 3, 4, 7].map((i) => fd.driver.owns(p.pte(a + i * PAGE).pfn as number));
    expect(owned).toEqual([false, false, true, true]);
    // The CPU reads a coherent page in place: no fault, no migration.
    expect(readU32(p, a + 7 * PAGE)).toBe(8);
    expect([sim.deviceCounters(0).cpuFaults, sim.deviceCounters(0).migratedToRam]).toEqual([0, 4]);
    expect(incoherent(sim, fd)).toEqual([]);
  });

  it("eviction crosses processes: a second process faulting evicts the first one's oldest pages, least recently allocated first", () => {
    const sim = new Simulator({ seed: 1, ramPages: 4096, kernel: 'v6.19', devices: [{ memoryPages: 4 }] });
    const p1 = sim.createProcess();
    const p2 = sim.createProcess();
    const a1 = p1.mmap(4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
    const a2 = p2.mmap(2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
    for (let i = 0; i < 4; i++) p1.write(a1 + i * PAGE, u32(10 + i));
    for (let i = 0; i < 2; i++) p2.write(a2 + i * PAGE, u32(20 + i));
    const fd1 = sim.openDevice(0, p1, { api: 'modern', policy: 'page' });
    const fd2 = sim.openDevice(0, p2, { api: 'modern', policy: 'page' });
    expect(fd1.launch(sumPages(a1, 4))).toEqual([46]);
    expect(sim.deviceUsedPages(0)).toBe(4);
    expect(fd2.launch(sumPages(a2, 2))).toEqual([41]);
    expect([0, 1, 2, 3].map((i) => p1.pte(a1 + i * PAGE).kind)).toEqual([
      'present',
      'present',
      'device-private',
      'device-private',
    ]);
    // The evicted pages' device entries went with the CPU unmap (MMU_NOTIFY_CLEAR through the notifier).
    expect([0, 1, 2, 3].map((i) => fd1.driver.pt.pfnOf(a1 / PAGE + i) >= 0)).toEqual([
      false,
      false,
      true,
      true,
    ]);
    expect(incoherent(sim, fd1, fd2)).toEqual([]);
    const before = sim.deviceCounters(0);
    expect([before.evictedPages, before.migratedToDevice]).toEqual([2, 6]);
    // p1's kernel again: pages 0 and 1 fault; least recently allocated are p1's own pages 2 and 3,
    // evicted for them, so 2 and 3 fault in turn and evict p2's two: 4 faults, 4 evictions.
    expect(fd1.launch(sumPages(a1, 4))).toEqual([46]);
    const after = sim.deviceCounters(0);
    expect([after.evictedPages, after.migratedToDevice, after.faults - before.faults]).toEqual([6, 10, 4]);
    expect([0, 1].map((i) => p2.pte(a2 + i * PAGE).kind)).toEqual(['present', 'present']);
    expect([readU32(p2, a2), readU32(p2, a2 + PAGE)]).toEqual([20, 21]);
  });

  it('MIGRATE_TO_SYS after a kernel wrote device memory brings the bytes back; RELEASE evicts the rest', () => {
    const { sim, p, a, fd } = setup('modern', 4, 16, 'page');
    fd.launch(function* (ctx) {
      for (let i = 0; i < 4; i++) yield* ctx.store32(a + i * PAGE + 8, 100 + i);
    });
    expect(sim.deviceCounters(0).migratedToDevice).toBe(4);
    expect(fd.migrateToSys(a, 2).cpages).toBe(2);
    expect(p.pte(a).kind).toBe('present');
    fd.release(a, 4);
    expect([0, 1, 2, 3].map((i) => p.pte(a + i * PAGE).kind)).toEqual([
      'present',
      'present',
      'present',
      'present',
    ]);
    expect([0, 1, 2, 3].map((i) => readU32(p, a + i * PAGE + 8))).toEqual([100, 101, 102, 103]);
    expect(incoherent(sim, fd)).toEqual([]);
  });
});

const TOUCH_PAGES = 24;

/**
 * A launch's `touch(addr, write)` is load8(addr) / store8(addr, 0) without a generator per access
 * (src/device/launch.ts, TouchOp): the same access. Run the same accesses both ways on identical
 * machines and compare everything a run leaves: the values read, the bytes stored, every device
 * counter and cost term, and the event log's hash (every scheduling point, in order).
 */
type Access = (ctx: DeviceKernelContext, addr: number, write: boolean) => Task<number>;

const viaLoadStore: Access = function* (ctx, addr, write) {
  if (!write) return yield* ctx.load8(addr);
  yield* ctx.store8(addr, 0);
  return 0;
};
const viaTouch: Access = (ctx, addr, write) => (ctx.touch as NonNullable<typeof ctx.touch>)(addr, write);

/** Thread t reads every page of its grid-stride share, stores 0 to byte 5 of every third, re-reads. */
function runAccesses(api: 'seed' | 'modern', access: Access, preemptible: boolean) {
  const sim = new Simulator({
    seed: 7,
    ramPages: 4096,
    kernel: api === 'modern' ? 'v6.19' : undefined,
    devices: [{ memoryPages: 64 }],
  });
  const p = sim.createProcess();
  const a = p.mmap(TOUCH_PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
  // half the pages written by the CPU (byte 5 = 100 + i), half left for the device's first touch
  for (let i = 0; i < TOUCH_PAGES; i += 2) p.write(a + i * PAGE + 5, new Uint8Array([100 + i]));
  const fd = sim.openDevice(0, p, { api, policy: 'none' });
  const kernel = function* (ctx: DeviceKernelContext): Task<number> {
    let sum = 0;
    for (let i = ctx.threadId; i < TOUCH_PAGES; i += ctx.threads) {
      const addr = a + i * PAGE + 5;
      sum = sum * 3 + (yield* access(ctx, addr, false));
      if (i % 3 === 0) yield* access(ctx, addr, true);
      sum = sum * 3 + (yield* access(ctx, addr, false));
    }
    return sum;
  };
  const results = sim.run('launch', fd.task.launch(kernel, { threads: 4, preemptible }));
  const bytes = Array.from({ length: TOUCH_PAGES }, (_, i) => p.read(a + i * PAGE + 5, 1)[0] as number);
  return {
    results,
    bytes,
    counters: { ...sim.deviceCounters(0) },
    costs: sim.deviceCosts(0),
    hash: sim.log.hash(),
    events: sim.log.count,
  };
}

describe('DeviceKernelContext.touch', () => {
  for (const api of ['seed', 'modern'] as const)
    for (const preemptible of [false, true])
      it(`is load8/store8(0) to the counter, cost term and scheduling point (${api}, preemptible ${preemptible})`, () => {
        const slow = runAccesses(api, viaLoadStore, preemptible);
        const fast = runAccesses(api, viaTouch, preemptible);
        expect(fast).toEqual(slow);
        // the run did fault and replay, read what the CPU wrote, and stored
        expect(slow.counters.faults).toBeGreaterThan(0);
        expect(slow.counters.retries).toBe(slow.counters.faults);
        expect(slow.bytes.slice(0, 4)).toEqual([0, 0, 102, 0]);
        expect(slow.results.every((r) => typeof r === 'number')).toBe(true);
      });

  it('fails an access the driver cannot map as load8 does, and the context keeps touching after', () => {
    const sim = new Simulator({ seed: 1, ramPages: 1024, devices: [{ memoryPages: 16 }] });
    const p = sim.createProcess();
    const a = p.mmap(PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
    const fd = sim.openDevice(0, p);
    const hole = a + 64 * PAGE;
    let caught: unknown = null;
    const results = fd.launch(function* (ctx: DeviceKernelContext): Task<number> {
      const touch = ctx.touch as NonNullable<typeof ctx.touch>;
      try {
        yield* touch(hole, false);
      } catch (e) {
        caught = e;
      }
      yield* touch(a, true);
      return yield* touch(a, false);
    });
    expect(caught).toBeInstanceOf(DeviceKernelFault);
    expect((caught as DeviceKernelFault).addr).toBe(hole);
    expect((caught as DeviceKernelFault).reason).toBe('unmapped');
    expect(results).toEqual([0]);
  });

  it('reports a misaligned or non-integer address as load8 does', () => {
    const sim = new Simulator({ seed: 1, ramPages: 1024, devices: [{ memoryPages: 16 }] });
    const p = sim.createProcess();
    const fd = sim.openDevice(0, p);
    expect(() =>
      fd.launch(function* (ctx: DeviceKernelContext): Task<number> {
        return yield* (ctx.touch as NonNullable<typeof ctx.touch>)(1.5, false);
      }),
    ).toThrow(/addr/);
  });
});
