import { describe, expect, it } from 'vitest';
import { checkAccounting } from '../../../src/check/accounting.js';
import { coherenceViolations } from '../../../src/check/coherence.js';
import { alignUp, PAGE_SIZE } from '../../../src/core/addr.js';
import { HmmError } from '../../../src/core/errno.js';
import { COST_PROFILE_DEFAULT, costProfile } from '../../../src/device/cost.js';
import type { TestHmmDmirror } from '../../../src/drivers/test_hmm/dmirror.js';
import {
  HMM_DMIRROR_FLAG_FAIL_ALLOC,
  HMM_DMIRROR_PROT_DEV_COHERENT_LOCAL,
  HMM_DMIRROR_PROT_PMD,
  HMM_DMIRROR_PROT_WRITE,
} from '../../../src/drivers/test_hmm/uapi.js';
import { MADV_HUGEPAGE, MADV_NOHUGEPAGE } from '../../../src/mm/madvise.js';
import {
  MIGRATE_VMA_SELECT_DEVICE_PRIVATE,
  migrateVmaFinalize,
  migrateVmaSetup,
} from '../../../src/mm/migrate_device.js';
import type { Task } from '../../../src/sched/index.js';
import type { DeviceFile } from '../../../src/sim/devicefile.js';
import type { Process } from '../../../src/sim/process.js';
import { Simulator } from '../../../src/sim/simulator.js';
import { eachDfsSchedule, spawnCpuRead } from '../../migrate/modern_device.js';

const RW = 3;
const PRIVATE_ANON = 0x22;
const SHARED_ANON = 0x21;
/** hmm-tests.c's HMM_BUFFER_SIZE (1 MiB): 256 pages. */
const NPAGES = 256;
const KINDS = ['private', 'coherent'] as const;
type Kind = (typeof KINDS)[number];

/** Two devices of the kind (the selftests' fixture opens device 0; hmm2 uses 0 and 1). */
function machine(kind: Kind, memoryPages = 512) {
  const sim = new Simulator({
    ramPages: 2048,
    sectionPages: 64,
    kernel: 'v6.19',
    devices: [
      { memoryPages, kind },
      { memoryPages, kind },
    ],
  });
  const p = sim.createProcess();
  const fd = sim.openDevice(0, p, { api: 'modern' });
  return { sim, p, fd, dmirror: fd.driver as TestHmmDmirror };
}

/** ptr[i] = i as 32-bit ints, as the selftests initialise their buffers. */
function ints(npages: number, base = 0): Uint8Array {
  const b = new Uint8Array(npages * PAGE_SIZE);
  const v = new DataView(b.buffer);
  for (let i = 0; i < b.length / 4; i++) v.setInt32(i * 4, i + base, true);
  return b;
}

function buffer(p: Process, npages = NPAGES, flags = PRIVATE_ANON): { a: number; data: Uint8Array } {
  const a = p.mmap(npages * PAGE_SIZE, RW, flags);
  const data = ints(npages);
  p.write(a, data);
  return { a, data };
}

function errno(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof HmmError) return e.code;
    throw e;
  }
  return 'no error';
}

/** Byte equality of two buffers (vitest's deep equality is slow on a MiB). */
function same(x: Uint8Array, y: Uint8Array): boolean {
  return Buffer.from(x.buffer, x.byteOffset, x.byteLength).equals(
    Buffer.from(y.buffer, y.byteOffset, y.byteLength),
  );
}

/** Checks the machine's books: every refcount, mapcount, rss and free list explained. */
function balanced(sim: Simulator): void {
  expect(checkAccounting(sim.kernel)).toEqual([]);
}

describe.each(KINDS)("today's test_hmm MIGRATE_TO_DEV on a %s device", (kind) => {
  it('migrate: every page moves and the device reads it back (cpages = npages)', () => {
    const { sim, p, fd } = machine(kind);
    const { a, data } = buffer(p);
    const r = fd.migrate(a, NPAGES);
    expect(r.cpages).toBe(NPAGES);
    expect(r.faults).toBe(0);
    expect(same(r.data, data)).toBe(true);
    const dev = sim.modernDevice(0);
    const pte = p.pte(a);
    expect(dev.owns(pte.pfn)).toBe(true);
    expect(pte.kind).toBe(kind === 'private' ? 'device-private' : 'present');
    expect(pte.write).toBe(true);
    expect(sim.page(pte.pfn)).toMatchObject({ refcount: 1, mapcount: 1, zone: 'device' });
    expect([dev.calloc, dev.cfree, dev.freeCount]).toEqual([NPAGES, 0, 512 - NPAGES]);
    expect(fd.driver.pt.pfnOf(a / PAGE_SIZE)).toBe(pte.pfn);
    expect(fd.driver.pt.isWritable(a / PAGE_SIZE)).toBe(true);
    expect(p.rss().anon).toBe(NPAGES);
    expect(sim.deviceCounters(0).migratedToDevice).toBe(NPAGES);
    balanced(sim);
  });

  it('holes and the zero page are filled with zeroed device pages (read-only on the device)', () => {
    const { sim, p, fd } = machine(kind);
    // A device page that held data, freed: the LIFO free list hands it out next.
    const used = buffer(p, 1);
    fd.migrate(used.a, 1);
    const dpfn = p.pte(used.a).pfn;
    expect(fd.migrateToSys(used.a, 1).cpages).toBe(1);
    const a = p.mmap(2 * PAGE_SIZE, RW, PRIVATE_ANON);
    p.read(a + PAGE_SIZE, 1);
    const r = fd.migrate(a, 2);
    expect(r.cpages).toBe(2);
    expect(p.pte(a).pfn).toBe(dpfn);
    expect(same(r.data, new Uint8Array(2 * PAGE_SIZE))).toBe(true);
    expect(fd.driver.pt.isWritable(a / PAGE_SIZE)).toBe(false);
    expect(p.pte(a).write).toBe(true);
    expect(sim.modernDevice(0).owns(p.pte(a + PAGE_SIZE).pfn)).toBe(true);
    balanced(sim);
  });

  it('migrate_shared: a shared mapping is not migrated, and the read-back fails with -ENOENT', () => {
    const { sim, p, fd } = machine(kind);
    const { a } = buffer(p, 4, SHARED_ANON);
    expect(errno(() => fd.migrate(a, 4))).toBe('ENOENT');
    expect(p.pte(a).kind).toBe('present');
    expect(sim.modernDevice(0).owns(p.pte(a).pfn)).toBe(false);
    // The device pages it took were given back.
    expect(sim.modernDevice(0).freeCount).toBe(512);
    balanced(sim);
  });

  it('HMM_DMIRROR_FLAG_FAIL_ALLOC: the first device allocation fails once; that page stays, the read-back fails', () => {
    const { sim, p, fd, dmirror } = machine(kind);
    const { a, data } = buffer(p, 4);
    fd.setFlags(HMM_DMIRROR_FLAG_FAIL_ALLOC);
    expect(errno(() => fd.migrate(a, 4))).toBe('ENOENT');
    expect(dmirror.flags).toBe(0);
    expect(sim.modernDevice(0).owns(p.pte(a).pfn)).toBe(false);
    expect(sim.modernDevice(0).owns(p.pte(a + PAGE_SIZE).pfn)).toBe(true);
    // Again, without the flag: the rest is already there, the first page moves now.
    const r = fd.migrate(a, 4);
    expect(r.cpages).toBe(4);
    expect(same(r.data, data)).toBe(true);
    balanced(sim);
  });

  it('-EINVAL: no VMA, an unaligned address, an empty range', () => {
    const { p, fd } = machine(kind);
    const { a } = buffer(p, 2);
    p.munmap(a + PAGE_SIZE, PAGE_SIZE);
    expect(errno(() => fd.migrate(a, 2))).toBe('EINVAL');
    expect(errno(() => fd.migrate(a + 1, 1))).toBe('EINVAL');
  });
});

describe('migrate_fault and migrate_multiple', () => {
  it('private: the CPU faults each page back (migrate_to_ram), the data intact; again to the device after', () => {
    const { sim, p, fd } = machine('private');
    const { a, data } = buffer(p);
    expect(fd.migrate(a, NPAGES).cpages).toBe(NPAGES);
    expect(same(p.read(a, NPAGES * PAGE_SIZE), data)).toBe(true);
    expect(sim.deviceCounters(0).cpuFaults).toBe(NPAGES);
    expect(p.pte(a)).toMatchObject({ kind: 'present', write: true });
    expect(sim.page(p.pte(a).pfn).zone).toBe('normal');
    // The device's entries went with the pages.
    expect(fd.driver.pt.pfnOf(a / PAGE_SIZE)).toBe(-1);
    const dev = sim.modernDevice(0);
    expect([dev.calloc, dev.cfree, dev.freeCount]).toEqual([NPAGES, NPAGES, 512]);
    const again = fd.migrate(a, NPAGES);
    expect(again.cpages).toBe(NPAGES);
    expect(same(again.data, data)).toBe(true);
    balanced(sim);
  });

  it('coherent: the CPU reads device memory in place (no fault); MIGRATE_TO_SYS brings it back (cpages = npages)', () => {
    const { sim, p, fd } = machine('coherent');
    for (let round = 0; round < 3; round++) {
      const { a, data } = buffer(p);
      expect(fd.migrate(a, NPAGES).cpages).toBe(NPAGES);
      expect(same(p.read(a, NPAGES * PAGE_SIZE), data)).toBe(true);
      expect(sim.deviceCounters(0).cpuFaults).toBe(0);
      expect(sim.modernDevice(0).owns(p.pte(a).pfn)).toBe(true);
      expect(fd.migrateToSys(a, NPAGES)).toEqual({ cpages: NPAGES, faults: 0 });
      expect(sim.page(p.pte(a).pfn).zone).toBe('normal');
      expect(same(p.read(a, NPAGES * PAGE_SIZE), data)).toBe(true);
      p.munmap(a, NPAGES * PAGE_SIZE);
    }
    expect(sim.modernDevice(0).freeCount).toBe(512);
    balanced(sim);
  });
});

describe.each(KINDS)('MIGRATE_TO_SYS on a %s device', (kind) => {
  it("moves only this device's pages; cpages counts them; their device entries are erased", () => {
    const { sim, p, fd } = machine(kind);
    const other = sim.openDevice(1, p, { api: 'modern' });
    const { a, data } = buffer(p, 4);
    expect(fd.migrate(a, 2).cpages).toBe(2);
    expect(other.migrate(a + 2 * PAGE_SIZE, 1).cpages).toBe(1);
    // page 3 stays in system memory
    expect(fd.migrateToSys(a, 4)).toEqual({ cpages: 2, faults: 0 });
    expect(sim.modernDevice(0).owns(p.pte(a).pfn)).toBe(false);
    expect(sim.modernDevice(1).owns(p.pte(a + 2 * PAGE_SIZE).pfn)).toBe(true);
    expect(fd.driver.pt.pfnOf(a / PAGE_SIZE)).toBe(-1);
    expect(fd.migrateToSys(a, 4)).toEqual({ cpages: 0, faults: 0 });
    expect(other.migrateToSys(a, 4)).toEqual({ cpages: 1, faults: 0 });
    expect(same(p.read(a, 4 * PAGE_SIZE), data)).toBe(true);
    balanced(sim);
  });

  it('a device page freed back to the list holds no contents: its host buffer is reused (as the seed dmirror)', () => {
    const { sim, p, fd } = machine(kind);
    const { a, data } = buffer(p, 4);
    expect(fd.migrate(a, 4).cpages).toBe(4);
    const pfns = [0, 1, 2, 3].map((i) => p.pte(a + i * PAGE_SIZE).pfn);
    const store = sim.kernel.mem.store;
    for (const pfn of pfns) expect(store.contents[pfn]).toBeDefined();
    expect(fd.migrateToSys(a, 4)).toEqual({ cpages: 4, faults: 0 });
    for (const pfn of pfns) expect([pfn, store.contents[pfn]]).toEqual([pfn, undefined]);
    expect(same(p.read(a, 4 * PAGE_SIZE), data)).toBe(true);
  });

  it('HMM_DMIRROR_FLAG_FAIL_ALLOC: no system page for the first: -ENOMEM, the batch restored', () => {
    const { sim, p, fd } = machine(kind);
    const { a, data } = buffer(p, 2);
    fd.migrate(a, 2);
    fd.setFlags(HMM_DMIRROR_FLAG_FAIL_ALLOC);
    expect(errno(() => fd.migrateToSys(a, 2))).toBe('ENOMEM');
    expect(sim.modernDevice(0).owns(p.pte(a).pfn)).toBe(true);
    expect(sim.modernDevice(0).owns(p.pte(a + PAGE_SIZE).pfn)).toBe(true);
    expect(fd.migrateToSys(a, 2).cpages).toBe(2);
    expect(same(p.read(a, 2 * PAGE_SIZE), data)).toBe(true);
    balanced(sim);
  });
});

describe.each(KINDS)('RELEASE on a %s device', (kind) => {
  it('migrate_release: every page is evicted to system memory by pfn; the data is intact', () => {
    const { sim, p, fd } = machine(kind);
    const { a, data } = buffer(p);
    expect(fd.migrate(a, NPAGES).cpages).toBe(NPAGES);
    expect(fd.release(a, NPAGES)).toEqual({ cpages: 0, faults: 0 });
    expect(sim.modernDevice(0).chunks).toEqual([]);
    expect(p.pte(a)).toMatchObject({ kind: 'present', write: true });
    expect(sim.page(p.pte(a).pfn).zone).toBe('normal');
    expect(sim.deviceCounters(0).cpuFaults).toBe(0);
    expect(same(p.read(a, NPAGES * PAGE_SIZE), data)).toBe(true);
    expect(fd.driver.pt.pfnOf(a / PAGE_SIZE)).toBe(-1);
    balanced(sim);
  });

  it('evicts the pages of both processes after fork; the next migration adds a new chunk', () => {
    const { sim, p, fd } = machine(kind);
    const { a, data } = buffer(p, 4);
    fd.migrate(a, 4);
    const child = p.fork();
    const d = p.pte(a).pfn;
    expect(child.pte(a).pfn).toBe(d);
    expect(sim.page(d)).toMatchObject({ refcount: 2, mapcount: 2 });
    fd.release(a, 4);
    const r = p.pte(a).pfn;
    expect(child.pte(a)).toMatchObject({ kind: 'present', pfn: r, write: false });
    expect(sim.page(r)).toMatchObject({ refcount: 2, mapcount: 2, zone: 'normal' });
    expect(same(child.read(a, 4 * PAGE_SIZE), data)).toBe(true);
    const again = fd.migrate(a + 2 * PAGE_SIZE, 2);
    expect(again.cpages).toBe(2);
    expect(sim.modernDevice(0).chunks.length).toBe(1);
    expect(sim.modernDevice(0).owns(p.pte(a + 2 * PAGE_SIZE).pfn)).toBe(true);
    balanced(sim);
  });
});

describe('the device file', () => {
  it('migrateToSys/release/migrate are HmmErrors on -errno, and the seed API keeps its own', () => {
    const { fd } = machine('private');
    const f: DeviceFile = fd;
    expect(errno(() => f.release(1, 1))).toBe('EINVAL');
    expect(errno(() => f.migrateToSys(PAGE_SIZE, 0))).toBe('EINVAL');
  });
});

describe('RELEASE racing the CPU', () => {
  it('eviction by pfn vs a CPU fault on the same device pages: every schedule ends with the data in system memory (DFS)', () => {
    let cpuFaulted = 0;
    const runs = eachDfsSchedule((dfs) => {
      const { sim, p, fd } = machine('private', 64);
      const { a, data } = buffer(p, 2);
      fd.migrate(a, 2);
      const ex = sim.executor(dfs);
      const read = spawnCpuRead(ex, p, a, 2 * PAGE_SIZE);
      ex.spawn('release', fd.task.release(a, 2));
      const res = ex.run();
      expect(res.status, res.failure?.message).toBe('done');
      expect(same(read() as Uint8Array, data)).toBe(true);
      for (let i = 0; i < 2; i++) expect(sim.page(p.pte(a + i * PAGE_SIZE).pfn).zone).toBe('normal');
      expect(sim.modernDevice(0).chunks).toEqual([]);
      if (sim.deviceCounters(0).cpuFaults > 0) cpuFaulted++;
      balanced(sim);
    });
    expect(runs).toBeGreaterThan(5);
    expect(cpuFaulted).toBeGreaterThan(0);
  });
});

describe('the coherence checker across a migration of the owner’s own pages', () => {
  it("the owner keeps its entry while its locked page is under migration (it skips its own MIGRATE invalidation); another device's mirror of it would be stale", () => {
    const { sim, p, fd, dmirror } = machine('private');
    const { a } = buffer(p, 1);
    fd.migrate(a, 1);
    const d = p.pte(a).pfn;
    const args = {
      vma: p.mm.vmaAt(a),
      src: new Float64Array(1),
      dst: new Float64Array(1),
      start: a,
      end: a + PAGE_SIZE,
      pgmapOwner: dmirror.mdevice,
      flags: MIGRATE_VMA_SELECT_DEVICE_PRIVATE,
      cpages: 0,
      npages: 0,
    };
    const other = sim.openDevice(1, p, { api: 'modern' }).driver as TestHmmDmirror;
    sim.run(
      'setup',
      (function* (): Task {
        yield* p.mm.mmapSem.downRead();
        expect(yield* migrateVmaSetup(args)).toBe(0);
        p.mm.mmapSem.upRead();
      })(),
    );
    expect(p.pte(a)).toMatchObject({ kind: 'migration', pfn: d });
    expect(dmirror.pt.pfnOf(a / PAGE_SIZE)).toBe(d);
    expect(coherenceViolations(sim.kernel, [dmirror])).toEqual([]);
    // The same entry in a mirror that does not own the page is stale.
    sim.run(
      'store',
      (function* (): Task {
        yield* other.mutex.lock();
        other.pt.store(a / PAGE_SIZE, d, true);
        other.mutex.unlock();
      })(),
    );
    expect(coherenceViolations(sim.kernel, [other])).toHaveLength(1);
    migrateVmaFinalize(args);
    expect(p.pte(a)).toMatchObject({ kind: 'device-private', pfn: d });
  });
});

describe("migrate_vma's bookkeeping on the cost clock (docs/costs.md)", () => {
  /** One MIGRATE_TO_DEV and one MIGRATE_TO_SYS of a 2 MiB PMD-aligned buffer, advised `advice`. */
  function roundTrip(advice: number): { bookkeeping: number; pagesInUse: number } {
    const { sim, p, fd, dmirror } = machine('private', 2048);
    const size = 512 * PAGE_SIZE;
    const a = alignUp(p.mmap(2 * size, RW, PRIVATE_ANON), size);
    p.madvise(a, size, advice);
    p.write(a, ints(512));
    expect(fd.migrate(a, 512).cpages).toBe(512);
    const onDevice = dmirror.mdevice.pagesInUse;
    fd.migrateToSys(a, 512);
    expect(dmirror.mdevice.pagesInUse).toBe(0);
    return { bookkeeping: sim.deviceCosts(0).migrateBookkeeping, pagesInUse: onDevice };
  }

  it('charges a THP that moves whole once, both ways; 512 pages 512 times', () => {
    const { migratePerCallUs: call, migratePerPageUs: page } = costProfile(COST_PROFILE_DEFAULT);
    expect(roundTrip(MADV_HUGEPAGE)).toEqual({ bookkeeping: 2 * (call + page), pagesInUse: 512 });
    expect(roundTrip(MADV_NOHUGEPAGE)).toEqual({ bookkeeping: 2 * (call + 512 * page), pagesInUse: 512 });
  });
});

describe('a device-coherent THP and MIGRATE_TO_SYS (v6.19, docs/fidelity.md)', () => {
  it('stays on the device, mapped by a present PMD, and the next MIGRATE_TO_DEV WARNs as test_hmm does', () => {
    const { p, fd, dmirror } = machine('coherent', 2048);
    const size = 512 * PAGE_SIZE;
    const a = alignUp(p.mmap(2 * size, RW, PRIVATE_ANON), size);
    p.madvise(a, size, MADV_HUGEPAGE);
    p.write(a, ints(512));
    expect(fd.migrate(a, 512).cpages).toBe(512);
    expect(dmirror.mdevice.pagesInUse).toBe(512);
    // migrate_vma_collect_huge_pmd skips a present huge PMD without SELECT_SYSTEM: nothing moves
    expect(fd.migrateToSys(a, 512).cpages).toBe(0);
    expect(dmirror.mdevice.pagesInUse).toBe(512);
    // SNAPSHOT: this device's coherent memory, writable, mapped at PMD order
    const perm = HMM_DMIRROR_PROT_DEV_COHERENT_LOCAL | HMM_DMIRROR_PROT_WRITE | HMM_DMIRROR_PROT_PMD;
    expect(new Set(fd.snapshot(a, 512).prot)).toEqual(new Set([perm]));
    // the CPU reads it where it is: coherent memory is CPU-addressable
    expect(p.read(a + 4 * 1000, 4)).toEqual(ints(512).slice(4 * 1000, 4 * 1001));
    expect(() => fd.migrate(a, 512)).toThrow(/^test_hmm: page already in device spage pfn: 0x/);
  });
});
