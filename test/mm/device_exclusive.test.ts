import { describe, expect, it } from 'vitest';
import { checkAccounting } from '../../src/check/accounting.js';
import { KernelBug } from '../../src/core/assert.js';
import { EFAULT, ENOMEM, EOPNOTSUPP, HmmError } from '../../src/core/errno.js';
import { HMM_DMIRROR_PROT_NONE, HMM_DMIRROR_PROT_WRITE } from '../../src/drivers/dmirror/uapi.js';
import { makeDeviceExclusive } from '../../src/mm/device_exclusive.js';
import { FOLL_GET, FOLL_WRITE, getUserPages } from '../../src/mm/gup.js';
import { MADV_DONTNEED, MADV_FREE } from '../../src/mm/madvise.js';
import { removeMigrationPtes } from '../../src/mm/migrate.js';
import { MAP_HUGETLB } from '../../src/mm/mmap.js';
import {
  MmuIntervalNotifier,
  mmuIntervalNotifierInsert,
  mmuIntervalSetSeq,
} from '../../src/mm/mmu_interval_notifier.js';
import { MMU_NOTIFY_EVENT_NAMES } from '../../src/mm/mmu_notifier.js';
import { MREMAP_MAYMOVE } from '../../src/mm/mremap.js';
import {
  describePte,
  isDeviceExclusiveEntry,
  pteHiOf,
  SWP_DEVICE_EXCLUSIVE,
  swpEntryLo,
} from '../../src/mm/pte.js';
import { TTU_MIGRATION, tryToUnmap } from '../../src/mm/rmap.js';
import { schedule, type Task } from '../../src/sched/index.js';
import type { Process } from '../../src/sim/process.js';
import type { Simulator } from '../../src/sim/simulator.js';
import { ANON, fill, locked, newSim, PG, RO, RW, roundRobin, SHARED_ANON, thrown } from './helpers.js';

/** The device that takes pages (the owner of its EXCLUSIVE invalidations). */
const DEVICE = { name: 'gpu0' };

interface Inval {
  event: string;
  start: number;
  end: number;
  owner: unknown;
}

/** An interval notifier over every address that records (event, range, owner). */
function watch(p: Process): Inval[] {
  const log: Inval[] = [];
  const sub = new MmuIntervalNotifier();
  const ops = {
    invalidate(
      s: MmuIntervalNotifier,
      r: { event: number; start: number; end: number; owner?: unknown },
      seq: number,
    ) {
      log.push({
        event: MMU_NOTIFY_EVENT_NAMES[r.event] as string,
        start: r.start,
        end: r.end,
        owner: r.owner ?? null,
      });
      mmuIntervalSetSeq(s, seq);
      return true;
    },
  };
  expect(p.sim.run('insert', mmuIntervalNotifierInsert(sub, p.mm, 0, 2 ** 47, ops))).toBe(0);
  return log;
}

/** make_device_exclusive under mmap_lock (read): the pfn, left locked and referenced, or -errno. */
function take(p: Process, addr: number, owner: unknown = DEVICE): number {
  return p.sim.run(
    'make_device_exclusive',
    locked(p.mm, 'read', () => makeDeviceExclusive(p.mm, addr, owner)),
  );
}

/** What the driver does once its MMU is programmed: folio_unlock, folio_put. */
function drop(sim: Simulator, pfn: number): void {
  const mem = sim.kernel.mem;
  mem.unlockPage(mem.store.compoundHead(pfn));
  mem.putPage(pfn);
}

/** A v6.19 machine and a process with `pages` anonymous pages written with i + 1. */
function written(pages = 2): { sim: Simulator; p: Process; a: number } {
  const sim = newSim({ kernel: 'v6.19' });
  const p = sim.createProcess();
  const a = p.mmap(pages * PG, RW, ANON);
  for (let i = 0; i < pages; i++) p.write(a + i * PG, fill(PG, i + 1));
  return { sim, p, a };
}

describe('make_device_exclusive (v6.19): the conversion', () => {
  it('replaces the writable PTE by a device-exclusive entry; mapcount and rss stay, the page comes back locked with one more reference', () => {
    const { sim, p, a } = written();
    const pfn = p.pte(a).pfn;
    expect(p.pte(a)).toMatchObject({ kind: 'present', write: true, dirty: true });
    expect(sim.page(pfn)).toMatchObject({ refcount: 1, mapcount: 1 });
    const log = watch(p);
    expect(take(p, a + 123)).toBe(pfn);
    expect(p.pte(a)).toMatchObject({ kind: 'device-exclusive', pfn, write: false, dirty: false });
    expect(p.pte(a).text).toBe(`device-exclusive pfn=${pfn}`);
    const slot = sim.kernel.pt.pteSlot(p.mm.pgd, a);
    expect([sim.kernel.pt.lo[slot], sim.kernel.pt.hi[slot]]).toEqual([
      swpEntryLo(SWP_DEVICE_EXCLUSIVE, pfn),
      pteHiOf(pfn),
    ]);
    expect(isDeviceExclusiveEntry(sim.kernel.pt.lo[slot] as number)).toBe(true);
    expect(sim.page(pfn)).toMatchObject({ refcount: 2, mapcount: 1 });
    // the PTE's dirty bit moved to the page: the entry is "clean and old" to the core
    expect(sim.page(pfn).flags).toEqual(['locked', 'dirty', 'anon', 'swapbacked']);
    expect(p.rss()).toEqual({ anon: 2, file: 0, shmem: 0, swapents: 0 });
    expect(log).toEqual([{ event: 'EXCLUSIVE', start: a, end: a + PG, owner: DEVICE }]);
    expect(p.pte(a + PG).kind).toBe('present');
    drop(sim, pfn);
    expect(sim.page(pfn)).toMatchObject({ refcount: 1, mapcount: 1 });
    expect(sim.page(pfn).flags).not.toContain('locked');
    expect(sim.stats().counters.device_exclusive).toBe(1);
    expect(checkAccounting(sim.kernel)).toEqual([]);
  });

  it('faults in a page that was never touched (GUP with FOLL_WRITE), then takes it', () => {
    const sim = newSim({ kernel: 'v6.19' });
    const p = sim.createProcess();
    const a = p.mmap(PG, RW, ANON);
    expect(p.pte(a).kind).toBe('none');
    const pfn = take(p, a);
    expect(p.pte(a)).toMatchObject({ kind: 'device-exclusive', pfn });
    expect(p.rss().anon).toBe(1);
    drop(sim, pfn);
    expect(p.read(a, 8)).toEqual(fill(8, 0));
    expect(checkAccounting(sim.kernel)).toEqual([]);
  });

  it('takes a page the CPU only read (the zero page) by breaking COW first', () => {
    const sim = newSim({ kernel: 'v6.19' });
    const p = sim.createProcess();
    const a = p.mmap(PG, RW, ANON);
    p.read(a, 1);
    expect(p.pte(a).special).toBe(true);
    const pfn = take(p, a);
    expect(p.pte(a)).toMatchObject({ kind: 'device-exclusive', pfn });
    expect(sim.page(pfn).flags).toContain('anon');
    drop(sim, pfn);
  });

  it('a page already exclusive is restored by the GUP fault and taken again: one CLEAR, one EXCLUSIVE', () => {
    const { sim, p, a } = written(1);
    const pfn = take(p, a);
    drop(sim, pfn);
    const log = watch(p);
    expect(take(p, a, 'other')).toBe(pfn);
    expect(log.map((l) => `${l.event}:${String(l.owner)}`)).toEqual(['CLEAR:null', 'EXCLUSIVE:other']);
    drop(sim, pfn);
    expect(sim.page(pfn)).toMatchObject({ refcount: 1, mapcount: 1 });
  });

  it('splits a huge PMD first (FOLL_SPLIT_PMD) and takes the one 4 KiB page', () => {
    const sim = newSim({ kernel: 'v6.19', ramPages: 2048, thp: 'always' });
    const p = sim.createProcess();
    const base = p.mmap(4 * 1024 * 1024, RW, ANON);
    const a = base - (base % (2 * 1024 * 1024)) + 2 * 1024 * 1024;
    p.write(a, fill(8, 9));
    expect(p.pte(a).order).toBe(9);
    const pfn = take(p, a + 5 * PG);
    expect(p.pte(a + 5 * PG)).toMatchObject({ kind: 'device-exclusive', pfn, order: 0 });
    expect(p.pte(a)).toMatchObject({ kind: 'present', order: 0 });
    expect(sim.page(pfn).compoundHead).toBe(p.pte(a).pfn);
    drop(sim, pfn);
    expect(checkAccounting(sim.kernel)).toEqual([]);
  });

  it('refuses what it cannot take: no VMA or no write permission (-EFAULT), a page that is not anonymous (-EOPNOTSUPP)', () => {
    const { sim, p, a } = written(1);
    expect(take(p, a + 64 * PG)).toBe(-EFAULT);
    const ro = p.mmap(PG, RO, ANON);
    expect(take(p, ro)).toBe(-EFAULT);
    const shared = p.mmap(PG, RW, SHARED_ANON);
    p.write(shared, fill(4, 1));
    const shmemPfn = p.pte(shared).pfn;
    const ref = sim.page(shmemPfn).refcount;
    expect(take(p, shared)).toBe(-EOPNOTSUPP);
    expect(sim.page(shmemPfn).refcount).toBe(ref);
    expect(p.pte(shared).kind).toBe('present');
    expect(checkAccounting(sim.kernel)).toEqual([]);
  });

  it('driver mappings: VM_PFNMAP is -EFAULT (GUP refuses it); a private VM_MIXEDMAP page is COW-copied by the write fault and the anonymous copy taken', () => {
    const { sim, p } = written(1);
    const pfnmap = p.mmapSpecial(PG, RO, 'pfnmap');
    expect(take(p, pfnmap)).toBe(-EFAULT);
    const mixed = p.mmapSpecial(PG, RW, 'mixedmap');
    const inserted = p.pte(mixed).pfn;
    const pfn = take(p, mixed);
    expect(pfn).not.toBe(inserted);
    expect(p.pte(mixed)).toMatchObject({ kind: 'device-exclusive', pfn });
    expect(sim.page(pfn).flags).toContain('anon');
    expect(sim.page(inserted).flags).not.toContain('anon');
    drop(sim, pfn);
  });

  it('a hugetlb page is refused (-EOPNOTSUPP) and stays mapped by its huge PMD', () => {
    const sim = newSim({ kernel: 'v6.19', ramPages: 4096, hugetlbPages: 1 });
    const p = sim.createProcess();
    const a = p.mmap(2 * 1024 * 1024, RW, ANON | MAP_HUGETLB);
    p.write(a + PG, fill(4, 6));
    const head = p.pte(a).pfn;
    const ref = sim.page(head).refcount;
    expect(take(p, a + PG)).toBe(-EOPNOTSUPP);
    expect(p.pte(a + PG)).toMatchObject({ kind: 'present', order: 9 });
    expect(sim.page(head).refcount).toBe(ref);
    expect(checkAccounting(sim.kernel)).toEqual([]);
  });

  it('needs mmap_lock: called without it is a kernel bug', () => {
    const { sim, p, a } = written(1);
    thrown(KernelBug, () => sim.run('unlocked', makeDeviceExclusive(p.mm, a, DEVICE)));
  });
});

describe('a CPU access restores the entry (remove_device_exclusive_entry)', () => {
  it('a read restores a writable, dirty, old PTE after a CLEAR invalidation with no owner', () => {
    const { sim, p, a } = written();
    const pfn = drop2(sim, take(p, a));
    const log = watch(p);
    expect(p.read(a, 4)).toEqual(fill(4, 1));
    expect(log).toEqual([{ event: 'CLEAR', start: a, end: a + PG, owner: null }]);
    expect(p.pte(a)).toMatchObject({ kind: 'present', pfn, write: true, dirty: true });
    expect(sim.page(pfn)).toMatchObject({ refcount: 1, mapcount: 1 });
    expect(p.rss().anon).toBe(2);
    expect(sim.stats().counters.device_exclusive_restore).toBe(1);
    expect(checkAccounting(sim.kernel)).toEqual([]);
  });

  it('a write restores the PTE and lands in the same page', () => {
    const { sim, p, a } = written();
    const pfn = drop2(sim, take(p, a + PG));
    p.write(a + PG + 10, fill(3, 0xee));
    expect(p.pte(a + PG)).toMatchObject({ kind: 'present', pfn, write: true });
    expect(p.read(a + PG + 8, 6)).toEqual(Uint8Array.from([2, 2, 0xee, 0xee, 0xee, 2]));
  });

  it('a clean page comes back writable but clean', () => {
    const sim = newSim({ kernel: 'v6.19' });
    const p = sim.createProcess();
    const a = p.mmap(PG, RW, ANON);
    const pfn = take(p, a);
    sim.kernel.mem.store.flags[pfn] = (sim.kernel.mem.store.flags[pfn] as number) & ~(1 << 2);
    drop(sim, pfn);
    p.read(a, 1);
    expect(p.pte(a)).toMatchObject({ kind: 'present', write: true, dirty: false });
  });

  it("under kernel: 'v5.3' no page is anon-exclusive: the restore is read-only and the write fault reuses the page", () => {
    const sim = newSim({ kernel: 'v5.3' });
    const p = sim.createProcess();
    const a = p.mmap(PG, RW, ANON);
    p.write(a, fill(PG, 3));
    const pfn = drop2(sim, take(p, a));
    expect(p.read(a, 1)).toEqual(fill(1, 3));
    expect(p.pte(a)).toMatchObject({ kind: 'present', pfn, write: false });
    p.write(a, fill(1, 4));
    expect(p.pte(a)).toMatchObject({ kind: 'present', pfn, write: true });
    expect(sim.stats().counters.cow ?? 0).toBe(0);
  });

  it('mprotect(PROT_READ) leaves the entry; the restore then gives a read-only PTE, and taking it again is -EFAULT', () => {
    const { sim, p, a } = written(1);
    const pfn = drop2(sim, take(p, a));
    p.mprotect(a, PG, RO);
    expect(p.pte(a)).toMatchObject({ kind: 'device-exclusive', pfn });
    expect(take(p, a)).toBe(-EFAULT);
    expect(p.pte(a).kind).toBe('device-exclusive');
    expect(p.read(a, 2)).toEqual(fill(2, 1));
    expect(p.pte(a)).toMatchObject({ kind: 'present', pfn, write: false });
    p.mprotect(a, PG, RW);
    p.write(a, fill(1, 7));
    expect(p.pte(a)).toMatchObject({ kind: 'present', pfn, write: true });
    expect(checkAccounting(sim.kernel)).toEqual([]);
  });

  it('the fault waits on the page lock until the driver has programmed its MMU and unlocks', () => {
    const { sim, p, a } = written(1);
    const order: string[] = [];
    const ex = sim.executor(roundRobin);
    ex.spawn(
      'driver',
      (function* (): Task {
        const pfn = yield* locked(p.mm, 'read', () => makeDeviceExclusive(p.mm, a, DEVICE));
        order.push('taken');
        for (let i = 0; i < 5; i++) yield* schedule('program the device MMU');
        order.push(`unlock ${p.pte(a).kind}`);
        drop(sim, pfn);
      })(),
    );
    ex.spawn(
      'cpu',
      (function* (): Task {
        yield* schedule('start');
        yield* schedule('start');
        const b = yield* p.task.read(a, 1);
        order.push(`read ${b[0]} ${p.pte(a).kind}`);
      })(),
    );
    expect(ex.run().status).toBe('done');
    expect(order).toEqual(['taken', 'unlock device-exclusive', 'read 1 present']);
  });

  it('an entry zapped while the fault sleeps on the lock is not restored (pte_same); the retried access finds the hole', () => {
    const { sim, p, a } = written(1);
    const order: string[] = [];
    let pfn = -1;
    const ex = sim.executor(roundRobin);
    ex.spawn(
      'driver',
      (function* (): Task {
        pfn = yield* locked(p.mm, 'read', () => makeDeviceExclusive(p.mm, a, DEVICE));
        for (let i = 0; i < 8; i++) yield* schedule('program the device MMU');
        order.push(`unlock ${p.pte(a).kind} ref ${sim.page(pfn).refcount}`);
        drop(sim, pfn);
      })(),
    );
    ex.spawn(
      'cpu',
      (function* (): Task {
        yield* schedule('start');
        order.push(`read ${(yield* p.task.read(a, 1))[0]}`);
      })(),
    );
    ex.spawn(
      'zapper',
      (function* (): Task {
        for (let i = 0; i < 4; i++) yield* schedule('later');
        yield* p.task.madvise(a, PG, MADV_DONTNEED);
        order.push(`zapped ${p.pte(a).kind}`);
      })(),
    );
    expect(ex.run().status).toBe('done');
    // the driver's reference and the sleeping fault's keep the page until both are gone
    expect(order).toEqual(['zapped none', 'unlock none ref 2', 'read 0']);
    expect(sim.page(pfn).flags).toEqual(['buddy']);
    expect(sim.stats().counters.device_exclusive_restore ?? 0).toBe(0);
    expect(p.pte(a).special).toBe(true);
  });

  it('GUP restores the entry through its fault and returns the page', () => {
    const { sim, p, a } = written(1);
    const pfn = drop2(sim, take(p, a));
    const pages: number[] = [];
    const got = sim.run(
      'gup',
      locked(p.mm, 'read', () => getUserPages(p.mm, a, 1, FOLL_GET | FOLL_WRITE, pages)),
    );
    expect(got).toBe(1);
    expect(pages).toEqual([pfn]);
    expect(p.pte(a)).toMatchObject({ kind: 'present', write: true });
    expect(sim.page(pfn).refcount).toBe(2);
    sim.kernel.mem.putPage(pfn);
  });
});

describe('the other paths that meet a device-exclusive entry', () => {
  it('fork restores it in the parent and copies it as a present COW page; each side then writes its own', () => {
    const { sim, p, a } = written(1);
    const pfn = drop2(sim, take(p, a));
    const log = watch(p);
    const child = p.fork();
    expect(log.map((l) => l.event)).toEqual(['PROTECTION_PAGE']);
    expect(p.pte(a)).toMatchObject({ kind: 'present', pfn, write: false });
    expect(child.pte(a)).toMatchObject({ kind: 'present', pfn, write: false });
    expect(sim.page(pfn)).toMatchObject({ refcount: 2, mapcount: 2 });
    expect(child.rss().anon).toBe(1);
    p.write(a, fill(4, 0x11));
    child.write(a, fill(4, 0x22));
    expect(p.read(a, 5)).toEqual(Uint8Array.from([0x11, 0x11, 0x11, 0x11, 1]));
    expect(child.read(a, 5)).toEqual(Uint8Array.from([0x22, 0x22, 0x22, 0x22, 1]));
    expect(checkAccounting(sim.kernel)).toEqual([]);
  });

  it('fork fails with ENOMEM while the page is still locked by its driver, and the entry stays', () => {
    const { sim, p, a } = written(1);
    const pfn = take(p, a);
    const err = thrown(HmmError, () => p.fork());
    expect(err.errno).toBe(ENOMEM);
    expect(p.pte(a)).toMatchObject({ kind: 'device-exclusive', pfn });
    drop(sim, pfn);
    const child = p.fork();
    expect(child.read(a, 1)).toEqual(fill(1, 1));
  });

  it('munmap drops the mapping and frees the page', () => {
    const { sim, p, a } = written(1);
    const pfn = drop2(sim, take(p, a));
    const log = watch(p);
    p.munmap(a, PG);
    expect(log.map((l) => l.event)).toEqual(['UNMAP']);
    expect(sim.page(pfn).flags).toEqual(['buddy']);
    expect(p.rss().anon).toBe(0);
    expect(sim.stats().usedPages).toBe(0);
    expect(checkAccounting(sim.kernel)).toEqual([]);
  });

  it('munmap while the driver still holds it: the page lives on its reference until the put', () => {
    const { sim, p, a } = written(1);
    const pfn = take(p, a);
    p.munmap(a, PG);
    expect(sim.page(pfn)).toMatchObject({ refcount: 1, mapcount: 0 });
    drop(sim, pfn);
    expect(sim.page(pfn).flags).toEqual(['buddy']);
  });

  it('MADV_DONTNEED zaps it; MADV_FREE leaves it alone', () => {
    const { sim, p, a } = written(2);
    const p0 = drop2(sim, take(p, a));
    const p1 = drop2(sim, take(p, a + PG));
    p.madvise(a + PG, PG, MADV_FREE);
    expect(p.pte(a + PG)).toMatchObject({ kind: 'device-exclusive', pfn: p1 });
    expect(sim.page(p1).flags).toContain('swapbacked');
    p.madvise(a, PG, MADV_DONTNEED);
    expect(p.pte(a).kind).toBe('none');
    expect(sim.page(p0).flags).toEqual(['buddy']);
    expect(p.rss().anon).toBe(1);
    expect(p.read(a, 1)).toEqual(fill(1, 0));
    expect(checkAccounting(sim.kernel)).toEqual([]);
  });

  it('reclaim of a lazyfree page reaches the entry: a dirty page is kept (swap-backed again), a clean one is discarded', () => {
    const { sim, p, a } = written(2);
    p.madvise(a, 2 * PG, MADV_FREE);
    // GUP's write lookup dirties the pages it takes (FOLL_TOUCH), as make_device_exclusive's does
    const dirty = drop2(sim, take(p, a));
    const clean = drop2(sim, take(p, a + PG));
    const s = sim.kernel.mem.store;
    s.flags[clean] = (s.flags[clean] as number) & ~(1 << 2); // PG_dirty: as if written back
    expect(sim.page(dirty).flags).not.toContain('swapbacked');
    expect(sim.reclaim(8)).toBe(1);
    expect(p.pte(a)).toMatchObject({ kind: 'device-exclusive', pfn: dirty });
    expect(sim.page(dirty).flags).toContain('swapbacked');
    expect(p.pte(a + PG).kind).toBe('none');
    expect(sim.page(clean).flags).toEqual(['buddy']);
    expect(p.rss().anon).toBe(1);
    expect(p.read(a + PG, 2)).toEqual(fill(2, 0));
    expect(checkAccounting(sim.kernel)).toEqual([]);
  });

  it('mremap moves the entry with its PTE; the page is found at its new address', () => {
    const { sim, p, a } = written(3);
    const pfn = drop2(sim, take(p, a + PG));
    // page 2 stays where it is, so the first two cannot grow in place and must move
    const b = p.mremap(a, 2 * PG, 4 * PG, MREMAP_MAYMOVE);
    expect(b).not.toBe(a);
    expect(p.pte(b + PG)).toMatchObject({ kind: 'device-exclusive', pfn });
    expect(checkAccounting(sim.kernel)).toEqual([]);
    expect(p.read(b + PG, 2)).toEqual(fill(2, 2));
    expect(p.pte(b + PG)).toMatchObject({ kind: 'present', pfn });
  });

  it('migration (try_to_unmap) turns it into a read migration entry and drops the mapping', () => {
    const { sim, p, a } = written(1);
    const pfn = drop2(sim, take(p, a));
    const { kernel } = sim;
    kernel.mem.getPage(pfn); // the migration's isolation reference
    expect(kernel.mem.trylockPage(pfn)).toBe(true);
    expect(sim.run('ttu', tryToUnmap(kernel, pfn, TTU_MIGRATION))).toBe(true);
    expect(p.pte(a)).toMatchObject({ kind: 'migration', pfn, write: false });
    expect(sim.page(pfn)).toMatchObject({ refcount: 1, mapcount: 0 });
    expect(p.rss().anon).toBe(1);
    removeMigrationPtes(kernel, pfn, pfn);
    kernel.mem.unlockPage(pfn);
    kernel.mem.putPage(pfn);
    expect(p.pte(a)).toMatchObject({ kind: 'present', pfn });
    expect(p.read(a, 1)).toEqual(fill(1, 1));
  });

  it('/proc/pid/pagemap reports it as a swap entry of its type with the pfn as offset', () => {
    const { sim, p, a } = written(1);
    const pfn = drop2(sim, take(p, a));
    const w = p.pagemap(a, 1);
    expect(w[0]).toBe(SWP_DEVICE_EXCLUSIVE + pfn * 32);
    expect((w[1] as number) >>> 30).toBe(1);
    expect(describePte(SWP_DEVICE_EXCLUSIVE << 1, 0)).toBe('device-exclusive pfn=0');
  });

  it('the accounting checker counts it as a mapping: a lost mapcount is reported', () => {
    const { sim, p, a } = written(1);
    const pfn = drop2(sim, take(p, a));
    expect(checkAccounting(sim.kernel)).toEqual([]);
    sim.kernel.mem.store.mapcount[pfn] = 0;
    expect(checkAccounting(sim.kernel).join('\n')).toMatch(/mapcount/);
  });
});

describe('the seed API (v5.3) meets an entry it never knew', () => {
  it('a snapshot reports the page not present; a device read faults it back, restoring the PTE', () => {
    const sim = newSim({ kernel: 'v6.19', devices: [{ memoryPages: 16 }] });
    const p = sim.createProcess();
    const a = p.mmap(2 * PG, RW, ANON);
    p.write(a, fill(2 * PG, 5));
    const fd = sim.openDevice(0, p);
    const pfn = drop2(sim, take(p, a));
    expect(fd.snapshot(a, 2).prot).toEqual(Uint8Array.from([HMM_DMIRROR_PROT_NONE, HMM_DMIRROR_PROT_WRITE]));
    expect(p.pte(a).kind).toBe('device-exclusive');
    const r = fd.read(a, 1);
    expect(r.data?.subarray(0, 4)).toEqual(fill(4, 5));
    expect(p.pte(a)).toMatchObject({ kind: 'present', pfn, write: true });
    expect(sim.stats().counters.device_exclusive_restore).toBe(1);
  });
});

/** drop() returning the pfn, for the tests that only need the entry, not the window. */
function drop2(sim: Simulator, pfn: number): number {
  expect(pfn).toBeGreaterThan(0);
  drop(sim, pfn);
  return pfn;
}
