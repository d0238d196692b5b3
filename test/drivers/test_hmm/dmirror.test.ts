import { describe, expect, it } from 'vitest';
import { PAGE_SIZE } from '../../../src/core/addr.js';
import { ArgumentError, HmmError } from '../../../src/core/errno.js';
import { TestHmmDevice } from '../../../src/drivers/test_hmm/device.js';
import { TestHmmDmirror } from '../../../src/drivers/test_hmm/dmirror.js';
import { HMM_DMIRROR_FLAG_FAIL_ALLOC } from '../../../src/drivers/test_hmm/uapi.js';
import { mmItreeSubscriptions } from '../../../src/mm/mmu_interval_notifier.js';
import { MMU_NOTIFY_MIGRATE, MMU_NOTIFY_UNMAP } from '../../../src/mm/mmu_notifier.js';
import { Simulator } from '../../../src/sim/simulator.js';

const RW = 3;
const MAP = 0x22;

function machine() {
  return new Simulator({
    ramPages: 256,
    sectionPages: 64,
    kernel: 'v6.19',
    devices: [{ memoryPages: 16 }, { memoryPages: 16, kind: 'coherent' }],
  });
}

/** Stores vpn -> pfn in the driver's device page table under its mutex, as dmirror_do_fault does. */
function store(sim: Simulator, d: TestHmmDmirror, vpn: number, pfn: number): void {
  sim.run(
    'store',
    (function* () {
      yield* d.mutex.lock();
      d.pt.store(vpn, pfn, true);
      d.mutex.unlock();
    })(),
  );
}

/** A thread that calls f (a non-blockable callback must not sleep, so it returns a value). */
// biome-ignore lint/correctness/useYield: the callback under test runs without sleeping
function* runs<T>(f: () => T): Generator<string, T, unknown> {
  return f();
}

describe("today's test_hmm: open, the interval notifier and the facade", () => {
  it("opening with { api: 'modern' } inserts one interval notifier over every address", () => {
    const sim = machine();
    const p = sim.createProcess();
    const fd = sim.openDevice(0, p, { api: 'modern' });
    expect(fd.driver).toBeInstanceOf(TestHmmDmirror);
    expect(fd.driver.driverName).toBe('test_hmm');
    expect(fd.driver.mirror).toBeUndefined();
    const subs = mmItreeSubscriptions(p.mm);
    expect(subs?.itree.overlapping(0, 2 ** 47).length).toBe(1);
    expect(sim.modernDevice(0)).toBeInstanceOf(TestHmmDevice);
    expect(sim.modernDevice(1).isPrivateZone).toBe(false);
    fd.close();
    expect(subs?.itree.overlapping(0, 2 ** 47).length).toBe(0);
  });

  it('an munmap erases the device entries of its range, and bumps the sequence count', () => {
    const sim = machine();
    const p = sim.createProcess();
    const a = p.mmap(4 * PAGE_SIZE, RW, MAP);
    const d = sim.openDevice(0, p, { api: 'modern' }).driver as TestHmmDmirror;
    for (let i = 0; i < 4; i++) store(sim, d, a / PAGE_SIZE + i, 100 + i);
    const seq = d.notifier.invalidateSeq;
    p.munmap(a + PAGE_SIZE, 2 * PAGE_SIZE);
    expect(d.pt.mappings().map((m) => m.vpn - a / PAGE_SIZE)).toEqual([0, 3]);
    expect(d.notifier.invalidateSeq).not.toBe(seq);
    expect(sim.deviceCounters(0).invalidatedPages).toBe(2);
  });

  it("ignores the MIGRATE invalidations its own device issues, and no other's", () => {
    const sim = machine();
    const p = sim.createProcess();
    const d = sim.openDevice(0, p, { api: 'modern' }).driver as TestHmmDmirror;
    store(sim, d, 1, 7);
    const range = (event: number, owner: unknown) => ({
      mm: p.mm,
      start: PAGE_SIZE,
      end: 2 * PAGE_SIZE,
      event,
      blockable: false,
      owner,
    });
    const invalidate = (owner: unknown) =>
      sim.run(
        'invalidate',
        runs(() => d.intervalInvalidate(d.notifier, range(MMU_NOTIFY_MIGRATE, owner), 3)),
      );
    expect(invalidate(d.mdevice)).toBe(true);
    expect(d.pt.pfnOf(1)).toBe(7);
    expect(invalidate(sim.modernDevice(1))).toBe(true);
    expect(d.pt.pfnOf(1)).toBe(-1);
    expect(d.notifier.invalidateSeq).toBe(3);
  });

  it('a non-blockable invalidation that finds the mutex taken returns false and changes nothing', () => {
    const sim = machine();
    const p = sim.createProcess();
    const d = sim.openDevice(0, p, { api: 'modern' }).driver as TestHmmDmirror;
    store(sim, d, 1, 7);
    const range = { mm: p.mm, start: 0, end: 4 * PAGE_SIZE, event: MMU_NOTIFY_UNMAP, blockable: false };
    const r = sim.run(
      'invalidate',
      (function* () {
        yield* d.mutex.lock();
        const ok = d.intervalInvalidate(d.notifier, range, 5);
        d.mutex.unlock();
        return ok;
      })(),
    );
    expect(r).toBe(false);
    expect(d.pt.pfnOf(1)).toBe(7);
  });

  it('HMM_DMIRROR_FLAGS sets the flags; the seed driver has no such ioctl (ENOTTY)', () => {
    const sim = machine();
    const p = sim.createProcess();
    const fd = sim.openDevice(0, p, { api: 'modern' });
    expect(fd.setFlags(HMM_DMIRROR_FLAG_FAIL_ALLOC)).toEqual({ cpages: 0, faults: 0 });
    expect((fd.driver as TestHmmDmirror).flags).toBe(HMM_DMIRROR_FLAG_FAIL_ALLOC);
    expect(() => fd.setFlags(-1)).toThrow(ArgumentError);
    const seedSim = new Simulator({ ramPages: 64, sectionPages: 64, devices: [{ memoryPages: 16 }] });
    const q = seedSim.createProcess();
    const seed = seedSim.openDevice(0, q);
    const e = (() => {
      try {
        seed.migrateToSys(0, 1);
      } catch (x) {
        return x;
      }
    })();
    expect(e).toBeInstanceOf(HmmError);
    expect((e as HmmError).code).toBe('ENOTTY');
  });

  it("a device's memory belongs to the API that opened it first; coherent memory is the modern API's", () => {
    const sim = machine();
    const p = sim.createProcess();
    sim.openDevice(0, p);
    expect(() => sim.openDevice(0, p, { api: 'modern' })).toThrow(/in use by the seed-API dmirror/);
    expect(() => sim.openDevice(1, p)).toThrow(/coherent memory, which the seed API cannot use/);
    expect(() => sim.openDevice(1, p, { api: 'other' as never })).toThrow(/'api'/);
    expect(() => sim.openDevice(1, p, { api: 'modern', variant: 'correct' })).toThrow(/modern-API driver/);
    expect(() => new Simulator({ devices: [{ kind: 'public' as never }] })).toThrow(/devices\[0\]\.kind/);
  });

  it('a process may have a seed-API mirror and a modern interval notifier at once', () => {
    const sim = new Simulator({
      ramPages: 256,
      sectionPages: 64,
      devices: [{ memoryPages: 16 }, { memoryPages: 16 }],
    });
    const p = sim.createProcess();
    const a = p.mmap(PAGE_SIZE, RW, MAP);
    p.write(a, new Uint8Array([9]));
    const seed = sim.openDevice(0, p);
    const modern = sim.openDevice(1, p, { api: 'modern' });
    expect(seed.read(a, 1).data[0]).toBe(9);
    store(sim, modern.driver as TestHmmDmirror, a / PAGE_SIZE, 55);
    p.munmap(a, PAGE_SIZE);
    expect(seed.driver.pt.pfnOf(a / PAGE_SIZE)).toBe(-1);
    expect(modern.driver.pt.pfnOf(a / PAGE_SIZE)).toBe(-1);
  });
});
