/**
 * mremap: shrinking and growing in place, moving (MAYMOVE, FIXED, DONTUNMAP), the invalidation a
 * mirror sees, device-private and migration entries moving with their PTEs, and every error.
 */

import { describe, expect, it } from 'vitest';
import { checkAccounting } from '../../src/check/accounting.js';
import { ArgumentError, EFAULT, EINVAL, HmmError, SegvError } from '../../src/core/errno.js';
import { removeMigrationPtes } from '../../src/mm/migrate.js';
import { MAP_PRIVATE } from '../../src/mm/mmap.js';
import { doMremap, MREMAP_DONTUNMAP, MREMAP_FIXED, MREMAP_MAYMOVE } from '../../src/mm/mremap.js';
import { TTU_MIGRATION, tryToUnmap } from '../../src/mm/rmap.js';
import type { Process } from '../../src/sim/process.js';
import { Simulator } from '../../src/sim/simulator.js';
import { ANON, fill, mmapAt, newSim, PG, RO, RW, record, SHARED_ANON, starts, thrown } from './helpers.js';

const MOVE = MREMAP_MAYMOVE;
const FIXED = MREMAP_MAYMOVE | MREMAP_FIXED;

/** Four written pages (bytes 1..4), the pfns they got. */
function four(p: Process): { a: number; pfns: number[] } {
  const a = p.mmap(4 * PG, RW, ANON);
  for (let i = 0; i < 4; i++) p.write(a + i * PG, fill(PG, i + 1));
  return { a, pfns: [0, 1, 2, 3].map((i) => p.pte(a + i * PG).pfn) };
}

function firstBytes(p: Process, a: number, n: number): number[] {
  return Array.from({ length: n }, (_, i) => p.read(a + i * PG, 1)[0] as number);
}

describe('mremap in place', () => {
  it('shrinks: the tail is unmapped and its pages freed', () => {
    const sim = newSim();
    const p = sim.createProcess();
    const { a, pfns } = four(p);
    const free = sim.stats().freePages;
    expect(p.mremap(a, 4 * PG, 2 * PG, 0)).toBe(a);
    expect(p.vmas()).toMatchObject([{ start: a, end: a + 2 * PG }]);
    expect(p.rss().anon).toBe(2);
    expect(sim.stats().freePages).toBe(free + 2);
    expect(sim.page(pfns[3]!).flags).toContain('buddy');
    expect(checkAccounting(sim.kernel)).toEqual([]);
  });

  it('grows into a free range after it; the new pages read as zeros', () => {
    const sim = newSim();
    const p = sim.createProcess();
    const a = mmapAt(p, 0x10_0000_0000, 2 * PG, RW, ANON);
    p.write(a, fill(PG, 5));
    expect(p.mremap(a, 2 * PG, 4 * PG, 0)).toBe(a);
    expect(p.vmas()).toMatchObject([{ start: a, end: a + 4 * PG }]);
    expect([...p.read(a + 3 * PG, 2)]).toEqual([0, 0]);
    expect(p.read(a, 1)[0]).toBe(5);
    expect(checkAccounting(sim.kernel)).toEqual([]);
  });

  it('same size is a no-op that returns the address', () => {
    const { sim, p } = (() => {
      const s = newSim();
      return { sim: s, p: s.createProcess() };
    })();
    const a = p.mmap(PG, RW, ANON);
    expect(p.mremap(a, PG, PG, 0)).toBe(a);
    expect(checkAccounting(sim.kernel)).toEqual([]);
  });
});

describe('mremap moving', () => {
  it('cannot grow in place without MAYMOVE (ENOMEM); with it, the pages move, untouched', () => {
    const sim = newSim();
    const p = sim.createProcess();
    const { a, pfns } = four(p);
    mmapAt(p, a + 4 * PG, PG, RW, ANON); // blocks growth
    expect(thrown(HmmError, () => p.mremap(a, 4 * PG, 6 * PG, 0)).code).toBe('ENOMEM');
    const { log } = record(p);
    const b = p.mremap(a, 4 * PG, 6 * PG, MOVE);
    expect(b).not.toBe(a);
    expect(p.pte(a).kind).toBe('none');
    expect([0, 1, 2, 3].map((i) => p.pte(b + i * PG).pfn)).toEqual(pfns);
    expect(pfns.map((f) => sim.page(f))).toMatchObject(pfns.map(() => ({ refcount: 1, mapcount: 1 })));
    expect(p.rss().anon).toBe(4);
    expect(firstBytes(p, b, 6)).toEqual([1, 2, 3, 4, 0, 0]);
    // move_page_tables invalidates the old range (UNMAP), then the old range is unmapped
    expect(starts(log).slice(0, 2)).toEqual([
      ['UNMAP', a, a + 4 * PG],
      ['UNMAP', a, a + 4 * PG],
    ]);
    // page->index unchanged; the new VMA's vm_pgoff sends rmap to the new address
    expect(checkAccounting(sim.kernel)).toEqual([]);
  });

  it('MREMAP_FIXED unmaps the destination first and moves part of a VMA there', () => {
    const sim = newSim();
    const p = sim.createProcess();
    const { a, pfns } = four(p);
    const dst = p.mmap(2 * PG, RW, ANON);
    p.write(dst, fill(2 * PG, 9));
    const old = p.pte(dst).pfn;
    expect(p.mremap(a + PG, 2 * PG, 2 * PG, FIXED, dst)).toBe(dst);
    expect(sim.page(old).flags).toContain('buddy');
    expect([p.pte(dst).pfn, p.pte(dst + PG).pfn]).toEqual([pfns[1], pfns[2]]);
    expect(firstBytes(p, dst, 2)).toEqual([2, 3]);
    expect(p.pte(a + PG).kind).toBe('none');
    expect(firstBytes(p, a, 1)).toEqual([1]);
    expect(firstBytes(p, a + 3 * PG, 1)).toEqual([4]);
    expect(thrown(SegvError, () => p.read(a + PG, 1)).addr).toBe(a + PG);
    expect(checkAccounting(sim.kernel)).toEqual([]);
  });

  it('MREMAP_FIXED with a shrink moves only what is kept', () => {
    const sim = newSim();
    const p = sim.createProcess();
    const { a } = four(p);
    const dst = 0x20_0000_0000;
    expect(p.mremap(a, 4 * PG, 3 * PG, FIXED, dst)).toBe(dst);
    expect(p.vmas()).toMatchObject([{ start: dst, end: dst + 3 * PG }]);
    expect(firstBytes(p, dst, 3)).toEqual([1, 2, 3]);
    expect(p.rss().anon).toBe(3);
    expect(checkAccounting(sim.kernel)).toEqual([]);
  });

  it('MREMAP_DONTUNMAP (v6.19) leaves the old VMA mapped and empty, reading zeros', () => {
    const sim = newSim({ kernel: 'v6.19' });
    const p = sim.createProcess();
    const { a, pfns } = four(p);
    const b = p.mremap(a, 4 * PG, 4 * PG, MREMAP_MAYMOVE | MREMAP_DONTUNMAP);
    expect(b).not.toBe(a);
    expect(p.vmas().map((v) => [v.start, v.end])).toEqual(
      [
        [a, a + 4 * PG],
        [b, b + 4 * PG],
      ].sort((x, y) => (x[0] as number) - (y[0] as number)),
    );
    expect(p.pte(a).kind).toBe('none');
    expect(p.pte(b + 3 * PG).pfn).toBe(pfns[3]);
    expect(p.mm.vmaAt(a)?.anonVma).toBe(null);
    expect(firstBytes(p, a, 4)).toEqual([0, 0, 0, 0]);
    p.write(a, fill(1, 7));
    expect(firstBytes(p, b, 4)).toEqual([1, 2, 3, 4]);
    expect(p.rss().anon).toBe(5);
    expect(checkAccounting(sim.kernel)).toEqual([]);
  });

  it('a shared anonymous mapping moves too, and still shares with its fork', () => {
    const sim = newSim();
    const p = sim.createProcess();
    const a = p.mmap(2 * PG, RW, SHARED_ANON);
    p.write(a, fill(PG, 3));
    const child = p.fork();
    const b = p.mremap(a, 2 * PG, 2 * PG, FIXED, 0x30_0000_0000);
    p.write(b, fill(1, 4));
    expect(child.read(a, 1)[0]).toBe(4);
    expect(checkAccounting(sim.kernel)).toEqual([]);
  });
});

describe('mremap of special entries', () => {
  it('device-private entries move with their PTE and fault back at the new address', () => {
    const sim = new Simulator({ ramPages: 256, devices: [{ memoryPages: 16 }] });
    const p = sim.createProcess();
    const { a } = four(p);
    const fd = sim.openDevice(0, p);
    expect(fd.migrate(a, 2).cpages).toBe(2);
    const dev = p.pte(a).pfn;
    expect(p.pte(a).kind).toBe('device-private');
    const b = p.mremap(a, 4 * PG, 4 * PG, FIXED, 0x40_0000_0000);
    expect(p.pte(b)).toMatchObject({ kind: 'device-private', pfn: dev });
    expect(sim.page(dev)).toMatchObject({ refcount: 2, mapcount: 1 });
    expect(p.rss().anon).toBe(4);
    expect(checkAccounting(sim.kernel)).toEqual([]);
    expect(firstBytes(p, b, 4)).toEqual([1, 2, 3, 4]);
    expect(p.pte(b).kind).toBe('present');
    expect(checkAccounting(sim.kernel)).toEqual([]);
    fd.close();
  });

  it('a mirror sees the old range invalidated; its device page table keeps nothing of it', () => {
    const sim = new Simulator({ ramPages: 256, devices: [{ memoryPages: 16 }] });
    const p = sim.createProcess();
    const { a } = four(p);
    const fd = sim.openDevice(0, p);
    expect(fd.read(a, 4).cpages).toBe(4);
    expect(fd.dmirror.pt.mappings()).toHaveLength(4);
    const before = sim.deviceCounters(0).invalidations;
    const b = p.mremap(a, 4 * PG, 4 * PG, FIXED, 0x50_0000_0000);
    expect(sim.deviceCounters(0).invalidations).toBeGreaterThan(before);
    expect(fd.dmirror.pt.mappings()).toEqual([]);
    const r = fd.read(b, 4);
    expect(r.cpages).toBe(4);
    expect(fd.dmirror.pt.mappings().map((m) => m.vpn)).toEqual([0, 1, 2, 3].map((i) => b / PG + i));
    fd.close();
  });

  it('a migration entry moves with its PTE; remove_migration_ptes finds it at the new address by rmap', () => {
    const sim = newSim();
    const p = sim.createProcess();
    const { a, pfns } = four(p);
    const pfn = pfns[1]!;
    const { mem } = sim.kernel;
    // the first half of a migration: lock the page, hold a reference, replace its mapping
    expect(mem.trylockPage(pfn)).toBe(true);
    mem.getPage(pfn);
    expect(sim.run('unmap', tryToUnmap(sim.kernel, pfn, TTU_MIGRATION))).toBe(true);
    expect(p.pte(a + PG)).toMatchObject({ kind: 'migration', pfn, write: true });
    const b = p.mremap(a, 4 * PG, 4 * PG, FIXED, 0x60_0000_0000);
    expect(p.pte(b + PG)).toMatchObject({ kind: 'migration', pfn, write: true });
    expect(p.rss().anon).toBe(4);
    expect(checkAccounting(sim.kernel)).toEqual([]);
    // the migration ends (to the same page): the entry is restored where the page now lives
    removeMigrationPtes(sim.kernel, pfn, pfn);
    mem.unlockPage(pfn);
    mem.putPage(pfn);
    expect(p.pte(b + PG)).toMatchObject({ kind: 'present', pfn, write: true });
    expect(sim.page(pfn)).toMatchObject({ refcount: 1, mapcount: 1 });
    expect(firstBytes(p, b, 2)).toEqual([1, 2]);
    expect(checkAccounting(sim.kernel)).toEqual([]);
  });
});

describe('mremap errors', () => {
  it('the facade names the bad argument', () => {
    const sim = newSim();
    const p = sim.createProcess();
    const a = p.mmap(4 * PG, RW, ANON);
    const arg = (fn: () => unknown) => thrown(ArgumentError, fn).message;
    expect(arg(() => p.mremap(a + 1, PG, PG, 0))).toContain('oldAddr');
    expect(arg(() => p.mremap(a, PG, 0, 0))).toContain('newLen');
    expect(arg(() => p.mremap(a, PG, PG, 0x80))).toContain('flags');
    expect(arg(() => p.mremap(a, PG, PG, MREMAP_FIXED, a + 8 * PG))).toContain('flags');
    expect(arg(() => p.mremap(a, PG, PG, FIXED))).toContain('newAddr');
    expect(arg(() => p.mremap(a, PG, PG, FIXED, a + 8 * PG + 1))).toContain('newAddr');
    expect(arg(() => p.mremap(a, 2 * PG, 2 * PG, FIXED, a + PG))).toContain('overlaps');
    expect(arg(() => p.mremap(a, PG, PG, MOVE | MREMAP_DONTUNMAP))).toContain('flags'); // v5.3: no such flag
    const now = newSim({ kernel: 'v6.19' }).createProcess();
    const c = now.mmap(2 * PG, RW, ANON);
    expect(arg(() => now.mremap(c, PG, 2 * PG, MOVE | MREMAP_DONTUNMAP))).toContain('newLen');
  });

  it('the kernel returns the errno Linux does', () => {
    const sim = newSim({ kernel: 'v6.19' });
    const p = sim.createProcess();
    const a = p.mmap(4 * PG, RW, ANON);
    const mr = (addr: number, o: number, n: number, f: number, to = 0) =>
      sim.run('mremap', doMremap(p.mm, addr, o, n, f, to));
    expect(mr(a, PG, PG, 0x80)).toBe(-EINVAL);
    expect(mr(a + 1, PG, PG, 0)).toBe(-EINVAL);
    expect(mr(a, PG, 0, 0)).toBe(-EINVAL);
    expect(mr(a, PG, PG, MREMAP_FIXED, a + 8 * PG)).toBe(-EINVAL);
    expect(mr(a, 2 * PG, 2 * PG, FIXED, a + PG)).toBe(-EINVAL);
    expect(mr(a, PG, 2 * PG, MOVE | MREMAP_DONTUNMAP, a + 8 * PG)).toBe(-EINVAL);
    expect(mr(a, 0, PG, MOVE)).toBe(-EINVAL);
    expect(mr(a + 8 * PG, PG, 2 * PG, MOVE)).toBe(-EFAULT);
    expect(mr(a + 2 * PG, 4 * PG, 8 * PG, MOVE)).toBe(-EFAULT);
    const pfnmap = p.mmapSpecial(2 * PG, RO, 'pfnmap');
    expect(mr(pfnmap, 2 * PG, 4 * PG, MOVE)).toBe(-EFAULT);
    expect(mr(pfnmap, 2 * PG, 2 * PG, MOVE | MREMAP_DONTUNMAP)).toBe(-EINVAL);
    expect(checkAccounting(sim.kernel)).toEqual([]);
  });

  it('MREMAP_FIXED from an unmapped address: v5.3 unmaps the destination before EFAULT, v6.19 does not', () => {
    for (const kernel of ['v5.3', 'v6.19'] as const) {
      const sim = newSim({ kernel });
      const p = sim.createProcess();
      const dst = p.mmap(PG, RW, ANON);
      p.write(dst, fill(1, 1));
      const r = sim.run('mremap', doMremap(p.mm, 0x70_0000_0000, PG, PG, FIXED, dst));
      expect(r).toBe(-EFAULT);
      expect(p.vmas().length).toBe(kernel === 'v5.3' ? 0 : 1);
      expect(checkAccounting(sim.kernel)).toEqual([]);
    }
  });

  it('v6.19 MREMAP_DONTUNMAP of a private file mapping: the old range reads the file again', () => {
    const sim = newSim({ kernel: 'v6.19' });
    const p = sim.createProcess();
    const f = sim.createFile(PG);
    f.pwrite(fill(PG, 6), 0);
    const a = p.mmap(PG, RW, MAP_PRIVATE, f);
    p.write(a, fill(1, 9));
    const b = p.mremap(a, PG, PG, MREMAP_MAYMOVE | MREMAP_DONTUNMAP);
    expect(p.read(b, 1)[0]).toBe(9);
    expect(p.read(a, 1)[0]).toBe(6);
    expect(checkAccounting(sim.kernel)).toEqual([]);
  });

  it('v5.3 shrinks without looking for a VMA; v6.19 looks first (EFAULT)', () => {
    for (const kernel of ['v5.3', 'v6.19'] as const) {
      const sim = newSim({ kernel });
      const p = sim.createProcess();
      const hole = 0x70_0000_0000;
      const r = sim.run('mremap', doMremap(p.mm, hole, 2 * PG, PG, 0));
      expect(r).toBe(kernel === 'v5.3' ? hole : -EFAULT);
    }
  });
});
