import { describe, expect, it } from 'vitest';
import { EINVAL } from '../../src/core/errno.js';
import { FAULT_FLAG_WRITE, handleMmFault } from '../../src/mm/fault.js';
import { migratePfnFlags, migratePfnToPage } from '../../src/mm/migrate.js';
import type { MigrateVma } from '../../src/mm/migrate_device.js';
import {
  MIGRATE_PFN_COMPOUND,
  MIGRATE_PFN_MIGRATE,
  MIGRATE_PFN_VALID,
  MIGRATE_PFN_WRITE,
  MIGRATE_VMA_SELECT_COMPOUND,
  MIGRATE_VMA_SELECT_DEVICE_COHERENT,
  MIGRATE_VMA_SELECT_DEVICE_PRIVATE,
  MIGRATE_VMA_SELECT_SYSTEM,
  migrateDeviceFinalize,
  migrateDevicePages,
  migrateDevicePfns,
  migrateDeviceRange,
  migratePfn,
  migrateVmaFinalize,
  migrateVmaPages,
  migrateVmaSetup,
} from '../../src/mm/migrate_device.js';
import type { MmStruct } from '../../src/mm/mm.js';
import { MAP_ANONYMOUS, MAP_SHARED } from '../../src/mm/mmap.js';
import type { MmuNotifierRange } from '../../src/mm/mmu_notifier.js';
import { MMU_NOTIFY_EVENT_NAMES, MmuNotifier, mmuNotifierRegister } from '../../src/mm/mmu_notifier.js';
import type { Task } from '../../src/sched/index.js';
import type { Process } from '../../src/sim/process.js';
import { ANON, fill, locked, PG, RW, setup } from '../mm/helpers.js';
import { eachDfsSchedule, ModernDevice, movedToDevice, spawnCpuRead, vmaOf } from './modern_device.js';

const V619 = { kernel: 'v6.19' as const };

/** migrate_pfn(pfn) | flags, exactly as the kernel's words. */
const W = (pfn: number, flags: number) => migratePfn(pfn) + (flags & ~MIGRATE_PFN_VALID);

function args(p: Process, start: number, n: number, flags: number, owner: unknown = null): MigrateVma {
  return {
    vma: vmaOf(p.mm, start),
    src: new Float64Array(n),
    dst: new Float64Array(n),
    start,
    end: start + n * PG,
    pgmapOwner: owner,
    flags,
    cpages: 0,
    npages: 0,
  };
}

/** Runs body under the mm's mmap lock (read). */
function run<T>(p: Process, body: () => Task<T>): T {
  return p.sim.run('t', locked(p.mm as MmStruct, 'read', body));
}

function setupOnly(p: Process, a: MigrateVma): number {
  return run(p, () => migrateVmaSetup(a));
}

/** Records each invalidation start's event name and owner. */
function ownerLog(p: Process): [string, unknown, number, number][] {
  const log: [string, unknown, number, number][] = [];
  const mn = new MmuNotifier({
    invalidateRangeStart(_mn, r: MmuNotifierRange) {
      log.push([MMU_NOTIFY_EVENT_NAMES[r.event] as string, r.owner, r.start, r.end]);
      return 0;
    },
  });
  expect(p.sim.run('reg', mmuNotifierRegister(mn, p.mm))).toBe(0);
  return log;
}

describe('migrate_vma_setup: argument checks (-EINVAL)', () => {
  it('each bad argument, and src left untouched', () => {
    const { sim, p } = setup(V619);
    const dev = new ModernDevice(sim.kernel, 'private', 4);
    const a = p.mmap(2 * PG, RW, ANON);
    const pfnmap = p.mmapSpecial(PG, 1, 'pfnmap');
    const bad: [string, (m: MigrateVma) => void][] = [
      ['no vma', (m) => (m.vma = null)],
      ['VM_SPECIAL', (m) => (m.vma = vmaOf(p.mm, pfnmap))],
      ['empty', (m) => (m.end = m.start)],
      ['end before start', (m) => (m.end = m.start - PG)],
      ['start below the vma', (m) => (m.start -= PG)],
      ['end past the vma', (m) => (m.end += PG)],
      ['no src', (m) => (m.src = null)],
      ['no dst', (m) => (m.dst = null)],
      ['fault page in RAM', (m) => (m.faultPage = 1)],
      ['fault page not locked', (m) => (m.faultPage = dev.first)],
    ];
    for (const [what, mend] of bad) {
      const m = args(p, a, 2, MIGRATE_VMA_SELECT_SYSTEM);
      (m.src as Float64Array).fill(7);
      mend(m);
      expect(setupOnly(p, m), what).toBe(-EINVAL);
      if (m.src !== null) expect([...m.src], what).toEqual([7, 7]);
    }
  });

  it('start and end are aligned down after the size is taken', () => {
    const { p } = setup(V619);
    const a = p.mmap(4 * PG, RW, ANON);
    const m = args(p, a, 2, MIGRATE_VMA_SELECT_SYSTEM);
    m.start = a + 100;
    m.end = a + 2 * PG + 100;
    expect(setupOnly(p, m)).toBe(0);
    expect([m.start, m.end, m.npages, m.cpages]).toEqual([a, a + 2 * PG, 2, 2]);
  });
});

describe('migrate_vma_setup: collect', () => {
  it('SELECT_SYSTEM: pages become migration entries (locked, collect holds the only reference), holes and the zero page "allocate" entries', () => {
    const { sim, p } = setup(V619);
    const a = p.mmap(3 * PG, RW, ANON);
    p.write(a, fill(PG, 1));
    p.read(a + 2 * PG, 1); // the zero page
    const p0 = p.pte(a).pfn;
    const log = ownerLog(p);
    const m = args(p, a, 3, MIGRATE_VMA_SELECT_SYSTEM, 'drv');
    expect(setupOnly(p, m)).toBe(0);
    expect([...(m.src as Float64Array)]).toEqual([
      W(p0, MIGRATE_PFN_VALID | MIGRATE_PFN_MIGRATE | MIGRATE_PFN_WRITE),
      MIGRATE_PFN_MIGRATE,
      MIGRATE_PFN_MIGRATE,
    ]);
    expect([...(m.dst as Float64Array)]).toEqual([0, 0, 0]);
    expect([m.cpages, m.npages]).toEqual([3, 3]);
    expect(p.pte(a)).toMatchObject({ kind: 'migration', pfn: p0, write: true });
    expect(sim.page(p0)).toMatchObject({ refcount: 1, mapcount: 0 });
    expect(sim.page(p0).flags).toContain('locked');
    expect(p.rss().anon).toBe(1);
    expect(log).toEqual([['MIGRATE', 'drv', a, a + 3 * PG]]);
    // Nothing to move: finalize restores every PTE and drops collect's references.
    migrateVmaFinalize(m);
    expect(p.pte(a)).toMatchObject({ kind: 'present', pfn: p0, write: true });
    expect(sim.page(p0)).toMatchObject({ refcount: 1, mapcount: 1 });
    expect(sim.page(p0).flags).not.toContain('locked');
    expect(p.read(a, 1)).toEqual(Uint8Array.of(1));
  });

  it('a read-only PTE gives an entry without MIGRATE_PFN_WRITE and a read migration entry', () => {
    const { p } = setup(V619);
    const a = p.mmap(PG, RW, ANON);
    p.write(a, fill(PG, 1));
    p.mprotect(a, PG, 1);
    const p0 = p.pte(a).pfn;
    const m = args(p, a, 1, MIGRATE_VMA_SELECT_SYSTEM);
    expect(setupOnly(p, m)).toBe(0);
    expect([...(m.src as Float64Array)]).toEqual([W(p0, MIGRATE_PFN_VALID | MIGRATE_PFN_MIGRATE)]);
    expect(p.pte(a)).toMatchObject({ kind: 'migration', pfn: p0, write: false });
    migrateVmaFinalize(m);
    expect(p.pte(a)).toMatchObject({ kind: 'present', pfn: p0, write: false });
  });

  it('without SELECT_SYSTEM, system pages and the zero page stay (holes are still collected)', () => {
    const { p } = setup(V619);
    const a = p.mmap(3 * PG, RW, ANON);
    p.write(a, fill(PG, 1));
    p.read(a + PG, 1);
    const m = args(p, a, 3, MIGRATE_VMA_SELECT_DEVICE_PRIVATE);
    expect(setupOnly(p, m)).toBe(0);
    expect([...(m.src as Float64Array)]).toEqual([0, 0, MIGRATE_PFN_MIGRATE]);
    expect(m.cpages).toBe(1);
    expect(p.pte(a).kind).toBe('present');
  });

  it('holes of a shared (non-anonymous) VMA are skipped; its pages are collected but never move to device memory', () => {
    const { sim, p } = setup(V619);
    const dev = new ModernDevice(sim.kernel, 'private', 4);
    const a = p.mmap(2 * PG, RW, MAP_SHARED | MAP_ANONYMOUS);
    p.write(a, fill(PG, 5));
    const s0 = p.pte(a).pfn;
    const m = args(p, a, 2, MIGRATE_VMA_SELECT_SYSTEM);
    expect(setupOnly(p, m)).toBe(0);
    expect([...(m.src as Float64Array)]).toEqual([
      W(s0, MIGRATE_PFN_VALID | MIGRATE_PFN_MIGRATE | MIGRATE_PFN_WRITE),
      0,
    ]);
    expect(m.cpages).toBe(1);
    const d = dev.alloc();
    (m.dst as Float64Array)[0] = migratePfn(d);
    run(p, () => migrateVmaPages(m));
    expect(migratePfnFlags((m.src as Float64Array)[0] as number) & MIGRATE_PFN_MIGRATE).toBe(0);
    migrateVmaFinalize(m);
    expect(p.pte(a)).toMatchObject({ kind: 'present', pfn: s0 });
    expect(dev.freed).toEqual([d]);
    expect(sim.page(d).refcount).toBe(0);
  });

  it('device-private pages: only with SELECT_DEVICE_PRIVATE and their own owner', () => {
    const { sim, p, dev: mine, a } = movedToDevice('private', 2, 9, 4);
    const d0 = p.pte(a).pfn;
    expect(p.pte(a)).toMatchObject({ kind: 'device-private', write: true });
    for (const [flags, owner] of [
      [MIGRATE_VMA_SELECT_SYSTEM | MIGRATE_VMA_SELECT_DEVICE_COHERENT, mine],
      [MIGRATE_VMA_SELECT_DEVICE_PRIVATE, 'someone else'],
    ] as const) {
      const m = args(p, a, 2, flags, owner);
      expect(setupOnly(p, m)).toBe(0);
      expect([...(m.src as Float64Array)]).toEqual([0, 0]);
      expect(m.cpages).toBe(0);
    }
    const m = args(p, a, 2, MIGRATE_VMA_SELECT_DEVICE_PRIVATE, mine);
    expect(setupOnly(p, m)).toBe(0);
    expect((m.src as Float64Array)[0]).toBe(
      W(d0, MIGRATE_PFN_VALID | MIGRATE_PFN_MIGRATE | MIGRATE_PFN_WRITE),
    );
    expect(m.cpages).toBe(2);
    // collect's reference, the mapping's gone; one is allowed for a ZONE_DEVICE page.
    expect(sim.page(d0)).toMatchObject({ refcount: 1, mapcount: 0 });
    migrateVmaFinalize(m);
    expect(p.pte(a)).toMatchObject({ kind: 'device-private', pfn: d0, write: true });
    expect(sim.page(d0)).toMatchObject({ refcount: 1, mapcount: 1 });
  });

  it('device-coherent pages: only with SELECT_DEVICE_COHERENT and their own owner', () => {
    const { sim, p, dev, a } = movedToDevice('coherent', 1, 9, 4);
    const d = p.pte(a).pfn;
    expect(sim.page(d).zone).toBe('device');
    let m = args(p, a, 1, MIGRATE_VMA_SELECT_SYSTEM, dev);
    expect(setupOnly(p, m)).toBe(0);
    expect(m.cpages).toBe(0);
    m = args(p, a, 1, MIGRATE_VMA_SELECT_DEVICE_COHERENT, 'other');
    expect(setupOnly(p, m)).toBe(0);
    expect(m.cpages).toBe(0);
    m = args(p, a, 1, MIGRATE_VMA_SELECT_DEVICE_COHERENT, dev);
    expect(setupOnly(p, m)).toBe(0);
    expect([...(m.src as Float64Array)]).toEqual([
      W(d, MIGRATE_PFN_VALID | MIGRATE_PFN_MIGRATE | MIGRATE_PFN_WRITE),
    ]);
    migrateVmaFinalize(m);
  });

  it('a page whose lock is taken is not collected (best effort); a pinned page is restored by unmap', () => {
    const { sim, p } = setup(V619);
    const a = p.mmap(2 * PG, RW, ANON);
    p.write(a, fill(2 * PG, 4));
    const [p0, p1] = [p.pte(a).pfn, p.pte(a + PG).pfn];
    expect(sim.kernel.mem.trylockPage(p0)).toBe(true);
    const pin = p.pin(a + PG, 1, { write: true });
    const m = args(p, a, 2, MIGRATE_VMA_SELECT_SYSTEM);
    expect(setupOnly(p, m)).toBe(0);
    expect([...(m.src as Float64Array)]).toEqual([0, 0]);
    expect(m.cpages).toBe(0);
    expect(p.pte(a)).toMatchObject({ kind: 'present', pfn: p0 });
    expect(p.pte(a + PG)).toMatchObject({ kind: 'present', pfn: p1, write: true });
    expect(sim.page(p1)).toMatchObject({ refcount: 1 + 1024, mapcount: 1 });
    expect(sim.page(p1).flags).not.toContain('locked');
    expect(sim.page(p0)).toMatchObject({ refcount: 1, mapcount: 1 });
    pin.unpin();
    sim.kernel.mem.unlockPage(p0);
  });

  it('SELECT_COMPOUND is accepted; no COMPOUND entry is produced (device THP not modelled)', () => {
    const { p } = setup(V619);
    const a = p.mmap(2 * PG, RW, ANON);
    const m = args(p, a, 2, MIGRATE_VMA_SELECT_SYSTEM | MIGRATE_VMA_SELECT_COMPOUND);
    expect(setupOnly(p, m)).toBe(0);
    expect([...(m.src as Float64Array)].every((e) => (migratePfnFlags(e) & MIGRATE_PFN_COMPOUND) === 0)).toBe(
      true,
    );
    expect(MIGRATE_PFN_COMPOUND).toBe(16);
    expect([
      MIGRATE_VMA_SELECT_SYSTEM,
      MIGRATE_VMA_SELECT_DEVICE_PRIVATE,
      MIGRATE_VMA_SELECT_DEVICE_COHERENT,
    ]).toEqual([1, 2, 4]);
  });
});

describe('migrate_vma_pages / finalize', () => {
  it('moves pages to device-private memory and fills holes; refcounts, mapcounts, rss, the second MIGRATE invalidation', () => {
    const { sim, p } = setup(V619);
    const dev = new ModernDevice(sim.kernel, 'private', 4);
    const a = p.mmap(3 * PG, RW, ANON);
    p.write(a, fill(PG, 0x21));
    p.read(a + PG, 1);
    const p0 = p.pte(a).pfn;
    const free0 = sim.kernel.mem.freePages;
    const log = ownerLog(p);
    const m = run(p, () => dev.toDevice(vmaOf(p.mm, a), a, 3));
    const [d0, d1, d2] = [dev.first, dev.first + 1, dev.first + 2];
    expect([...(m.src as Float64Array)]).toEqual([
      W(p0, MIGRATE_PFN_VALID | MIGRATE_PFN_MIGRATE | MIGRATE_PFN_WRITE),
      MIGRATE_PFN_MIGRATE,
      MIGRATE_PFN_MIGRATE,
    ]);
    expect([...(m.dst as Float64Array)]).toEqual([migratePfn(d0), migratePfn(d1), migratePfn(d2)]);
    for (const [i, d] of [d0, d1, d2].entries()) {
      expect(p.pte(a + i * PG)).toMatchObject({ kind: 'device-private', pfn: d, write: true });
      expect(sim.page(d)).toMatchObject({ refcount: 1, mapcount: 1 });
      expect(sim.page(d).flags).not.toContain('locked');
    }
    expect(p.rss().anon).toBe(3);
    expect(sim.kernel.mem.freePages).toBe(free0 + 1);
    // collect's invalidation, then the one migrate_vma_pages issues before the first insert.
    expect(log.map(([e, owner, s, t]) => [e, owner === dev, s, t])).toEqual([
      ['MIGRATE', true, a, a + 3 * PG],
      ['MIGRATE', true, a + PG, a + 3 * PG],
    ]);
    expect(sim.kernel.mem.store.contents[d0]?.[0]).toBe(0x21);
  });

  it('an insert loses to a CPU fault that populated the hole: the device page goes back to its driver', () => {
    const { sim, p } = setup(V619);
    const dev = new ModernDevice(sim.kernel, 'private', 4);
    const a = p.mmap(PG, RW, ANON);
    const m = args(p, a, 1, MIGRATE_VMA_SELECT_SYSTEM, dev);
    run(p, function* () {
      expect(yield* migrateVmaSetup(m)).toBe(0);
      (m.dst as Float64Array)[0] = migratePfn(dev.alloc());
      yield* handleMmFault(p.mm, vmaOf(p.mm, a), a, FAULT_FLAG_WRITE);
      yield* migrateVmaPages(m);
      migrateVmaFinalize(m);
    });
    expect([...(m.src as Float64Array)]).toEqual([0]);
    expect(p.pte(a).kind).toBe('present');
    expect(dev.freed).toEqual([dev.first]);
    expect(sim.page(dev.first)).toMatchObject({ refcount: 0, mapcount: 0 });
    expect(p.rss().anon).toBe(1);
  });

  it('pages shared after fork: try_to_migrate unmaps the other process too; both map the device page', () => {
    const { sim, p } = setup(V619);
    const dev = new ModernDevice(sim.kernel, 'private', 4);
    const a = p.mmap(PG, RW, ANON);
    p.write(a, fill(PG, 6));
    const child = p.fork();
    const s0 = p.pte(a).pfn;
    const m = run(p, () => dev.toDevice(vmaOf(p.mm, a), a, 1));
    expect(m.cpages).toBe(1);
    const d = dev.first;
    expect(p.pte(a)).toMatchObject({ kind: 'device-private', pfn: d, write: false });
    expect(child.pte(a)).toMatchObject({ kind: 'device-private', pfn: d, write: false });
    expect(sim.page(d)).toMatchObject({ refcount: 2, mapcount: 2 });
    expect(sim.page(s0).refcount).toBe(0);
    expect([p.rss().anon, child.rss().anon]).toEqual([1, 1]);
  });
});

describe('the CPU fault and migrate_to_ram (faultPage)', () => {
  it('setup collects the locked fault page without locking it; finalize leaves it locked for the fault path', () => {
    const { sim, p, dev, a } = movedToDevice('private', 1, 3, 4);
    const d = dev.first;
    const seen: [number[], number, boolean][] = [];
    dev.onFault = (m) =>
      seen.push([[...(m.src as Float64Array)], m.cpages, sim.kernel.mem.store.isLocked(d)]);
    dev.afterFault = () =>
      seen.push([[], sim.kernel.mem.store.refcount[d] as number, sim.kernel.mem.store.isLocked(d)]);
    expect(p.read(a, 1)).toEqual(Uint8Array.of(3));
    expect(seen).toEqual([
      [[W(d, MIGRATE_PFN_VALID | MIGRATE_PFN_MIGRATE | MIGRATE_PFN_WRITE)], 1, true],
      // after finalize: only the fault path's reference, still locked by it
      [[], 1, true],
    ]);
    expect(sim.page(d)).toMatchObject({ refcount: 0, mapcount: 0 });
    expect(dev.freed).toEqual([d]);
  });

  it('a fault that finds no system page is VM_FAULT_OOM: the entry is restored, the page stays on the device', () => {
    const { sim, p, dev, a } = movedToDevice('private', 1, 3, 4);
    dev.oom = true;
    const r = run(p, () => handleMmFault(p.mm, vmaOf(p.mm, a), a, 0));
    expect(r).toBeGreaterThan(0);
    expect(p.pte(a)).toMatchObject({ kind: 'device-private', pfn: dev.first, write: true });
    expect(sim.page(dev.first)).toMatchObject({ refcount: 1, mapcount: 1 });
    expect(sim.page(dev.first).flags).not.toContain('locked');
    expect(dev.freed).toEqual([]);
  });

  it('a CPU access racing a migration to the device waits on the migration entry, then faults the page back (DFS)', () => {
    let waited = 0;
    const runs = eachDfsSchedule((dfs) => {
      const { sim, p } = setup(V619);
      const dev = new ModernDevice(sim.kernel, 'private', 4);
      dev.yieldInCopy = true;
      const a = p.mmap(PG, RW, ANON);
      p.write(a, fill(PG, 0x77));
      const ex = sim.executor(dfs);
      ex.spawn(
        'migrate',
        locked(p.mm, 'read', () => dev.toDevice(vmaOf(p.mm, a), a, 1)),
      );
      const read = spawnCpuRead(ex, p, a, 2);
      const res = ex.run();
      expect(res.status, res.failure?.message).toBe('done');
      expect(read()).toEqual(Uint8Array.of(0x77, 0x77));
      const pte = p.pte(a);
      if (sim.kernel.counters.get('migration_entry_wait') > 0) {
        waited++;
        expect(dev.faults).toEqual([dev.first]);
        expect(pte.kind).toBe('present');
      }
      if (pte.kind === 'device-private')
        expect(sim.page(pte.pfn)).toMatchObject({ refcount: 1, mapcount: 1 });
      else expect(sim.page(pte.pfn)).toMatchObject({ refcount: 1, mapcount: 1, zone: 'normal' });
      expect(sim.page(pte.pfn).flags).not.toContain('locked');
      expect(dev.freed.length + (pte.kind === 'device-private' ? 1 : 0)).toBe(1);
    });
    expect(runs).toBeGreaterThan(3);
    expect(waited).toBeGreaterThan(0);
  });
});

describe('migrate_device_range: eviction by pfn', () => {
  it('evicts device pages mapped in two processes (fork) to system memory; free pages are skipped', () => {
    const { sim, p, dev, a } = movedToDevice('private', 2, 0x33, 4);
    const child = p.fork();
    const [d0, d1] = [dev.first, dev.first + 1];
    expect(sim.page(d0)).toMatchObject({ refcount: 2, mapcount: 2 });
    const log = ownerLog(child);
    const kernel = sim.kernel;
    const src = new Float64Array(4);
    const dst = new Float64Array(4);
    expect(sim.run('evict', migrateDeviceRange(kernel, src, dev.first, 4))).toBe(0);
    expect([...src]).toEqual([
      W(d0, MIGRATE_PFN_VALID | MIGRATE_PFN_MIGRATE),
      W(d1, MIGRATE_PFN_VALID | MIGRATE_PFN_MIGRATE),
      0,
      0,
    ]);
    expect(p.pte(a)).toMatchObject({ kind: 'migration', pfn: d0, write: false });
    expect(child.pte(a + PG)).toMatchObject({ kind: 'migration', pfn: d1, write: false });
    expect(sim.page(d0)).toMatchObject({ refcount: 1, mapcount: 0 });
    // try_to_migrate's per-page CLEAR invalidations (no owner)
    expect(log.map((e) => [e[0], e[1]])).toEqual([
      ['CLEAR', null],
      ['CLEAR', null],
    ]);
    const ram: number[] = [];
    for (let i = 0; i < 2; i++) {
      const r = kernel.mem.allocPage();
      kernel.mem.trylockPage(r);
      kernel.mem.copyPage(r, migratePfnToPage(src[i] as number));
      dst[i] = migratePfn(r);
      ram.push(r);
    }
    sim.run('pages', migrateDevicePages(kernel, src, dst, 4));
    migrateDeviceFinalize(kernel, src, dst, 4);
    for (const [i, r] of ram.entries()) {
      expect(p.pte(a + i * PG)).toMatchObject({ kind: 'present', pfn: r, write: false });
      expect(child.pte(a + i * PG)).toMatchObject({ kind: 'present', pfn: r, write: false });
      expect(sim.page(r)).toMatchObject({ refcount: 2, mapcount: 2, zone: 'normal' });
    }
    expect(dev.freed.sort()).toEqual([d0, d1]);
    expect(sim.page(d0)).toMatchObject({ refcount: 0, mapcount: 0 });
    expect(p.read(a + PG, 1)).toEqual(Uint8Array.of(0x33));
    expect(child.read(a, 1)).toEqual(Uint8Array.of(0x33));
    expect(dev.faults).toEqual([]);
  });

  it('a writable device-private entry becomes a writable migration entry (v6.19), and maps writable again', () => {
    const { sim, p, dev, a } = movedToDevice('private', 1, 1, 4);
    const src = new Float64Array(1);
    sim.run('evict', migrateDeviceRange(sim.kernel, src, dev.first, 1));
    expect(p.pte(a)).toMatchObject({ kind: 'migration', write: true });
    // No destination: finalize restores the device page.
    migrateDeviceFinalize(sim.kernel, src, new Float64Array(1), 1);
    expect(p.pte(a)).toMatchObject({ kind: 'device-private', pfn: dev.first, write: true });
    expect(sim.page(dev.first)).toMatchObject({ refcount: 1, mapcount: 1 });
    expect(sim.page(dev.first).flags).not.toContain('locked');
  });

  it('migrate_device_pfns: the same from a list of pfns; a free page gives 0', () => {
    const { sim, p, dev, a } = movedToDevice('private', 2, 0x44, 4);
    const d1 = p.pte(a + PG).pfn;
    const free = dev.free[dev.free.length - 1] as number;
    const src = Float64Array.of(d1, free);
    expect(sim.run('pfns', migrateDevicePfns(sim.kernel, src, 2))).toBe(0);
    expect([...src]).toEqual([W(d1, MIGRATE_PFN_VALID | MIGRATE_PFN_MIGRATE), 0]);
    expect(p.pte(a + PG)).toMatchObject({ kind: 'migration', pfn: d1, write: true });
    expect(p.pte(a).kind).toBe('device-private');
    migrateDeviceFinalize(sim.kernel, src, new Float64Array(2), 2);
    expect(p.pte(a + PG)).toMatchObject({ kind: 'device-private', pfn: d1, write: true });
    expect(sim.page(d1)).toMatchObject({ refcount: 1, mapcount: 1 });
  });

  it('bad arguments are ArgumentErrors naming them', () => {
    const { sim } = setup(V619);
    const src = new Float64Array(1);
    expect(() => sim.run('x', migrateDeviceRange(sim.kernel, src, 1, 2))).toThrow(/src/);
    expect(() => sim.run('x', migrateDeviceRange(sim.kernel, src, 2 ** 40, 1))).toThrow(/start/);
    expect(() => migrateDeviceFinalize(sim.kernel, src, src, -1)).toThrow(/npages/);
  });
});
