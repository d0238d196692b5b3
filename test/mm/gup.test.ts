import { describe, expect, it } from 'vitest';
import { EFAULT, EINVAL, ENOMEM } from '../../src/core/errno.js';
import { FOLL_WRITE, followPage, getUserPages } from '../../src/mm/gup.js';
import type { MmStruct } from '../../src/mm/mm.js';
import { MAP_PRIVATE, MAP_SHARED, PROT_READ } from '../../src/mm/mmap.js';
import { LockdepBug } from '../../src/sched/index.js';
import type { Process } from '../../src/sim/process.js';
import { ANON, bytes, locked, newSim, PG, RO, RW, setup, thrown } from './helpers.js';

/** get_user_pages under mmap_sem for read; returns [ret, pfns]. */
function gup(p: Process, start: number, n: number, flags: number, pin = true): [number, number[]] {
  const pages: number[] = [];
  const mm: MmStruct = p.mm;
  const r = p.sim.run(
    'gup',
    locked(mm, 'read', () => getUserPages(mm, start, n, flags, pin ? pages : null)),
  );
  return [r, pages];
}

describe('mm/gup: get_user_pages', () => {
  it('FOLL_WRITE on a page shared after fork breaks COW and pins the new page', () => {
    const { sim, p } = setup();
    const a = p.mmap(PG, RW, ANON);
    p.write(a, bytes(1));
    const old = p.pte(a).pfn;
    const child = p.fork();
    const [r, pages] = gup(p, a, 1, FOLL_WRITE);
    expect(r).toBe(1);
    const pinned = pages[0] as number;
    expect(pinned).not.toBe(old);
    expect(p.pte(a)).toMatchObject({ kind: 'present', pfn: pinned, write: true, dirty: true });
    expect(sim.page(pinned)).toMatchObject({ refcount: 2, mapcount: 1 });
    expect(sim.page(old)).toMatchObject({ refcount: 1, mapcount: 1 });
    expect(child.pte(a).pfn).toBe(old);
    expect(sim.stats().counters.cow).toBe(1);
  });

  it('FOLL_WRITE on an untouched anonymous page allocates it; a read lookup returns the zero page', () => {
    const { sim, p } = setup();
    const a = p.mmap(2 * PG, RW, ANON);
    const [r, pages] = gup(p, a, 1, FOLL_WRITE);
    expect(r).toBe(1);
    expect(sim.page(pages[0] as number)).toMatchObject({
      refcount: 2,
      mapcount: 1,
      flags: ['anon', 'swapbacked'],
    });
    const [r2, zero] = gup(p, a + PG, 1, 0);
    expect(r2).toBe(1);
    expect(zero).toEqual([0]);
    expect(p.pte(a + PG)).toMatchObject({ pfn: 0, special: true });
    expect(sim.page(0).refcount).toBe(2);
    sim.kernel.mem.putPage(0);
  });

  it('start need not be aligned; the pages of [start, start + n pages) are returned in order', () => {
    const { p } = setup();
    const a = p.mmap(3 * PG, RW, ANON);
    p.write(a, new Uint8Array(3 * PG).fill(1));
    const [r, pages] = gup(p, a + 100, 3, FOLL_WRITE);
    expect(r).toBe(3);
    expect(pages).toEqual([0, 1, 2].map((i) => p.pte(a + i * PG).pfn));
  });

  it('without a pages array nothing is pinned, but the pages are faulted in', () => {
    const { sim, p } = setup();
    const a = p.mmap(PG, RW, ANON);
    const [r] = gup(p, a, 1, FOLL_WRITE, false);
    expect(r).toBe(1);
    expect(sim.page(p.pte(a).pfn)).toMatchObject({ refcount: 1, mapcount: 1 });
  });

  it('FOLL_WRITE on a read-only VMA is -EFAULT; so is a PFNMAP VMA, and no VMA at all', () => {
    const { p } = setup();
    const ro = p.mmap(PG, RO, ANON);
    expect(gup(p, ro, 1, FOLL_WRITE)).toEqual([-EFAULT, []]);
    expect(p.pte(ro).kind).toBe('none');
    const pfnmap = p.mmapSpecial(PG, PROT_READ, 'pfnmap');
    expect(gup(p, pfnmap, 1, 0)).toEqual([-EFAULT, []]);
    expect(gup(p, 0x10000, 1, 0)).toEqual([-EFAULT, []]);
    const none = p.mmap(PG, 0, ANON);
    expect(gup(p, none, 1, 0)).toEqual([-EFAULT, []]);
  });

  it('partial success returns the number of pages pinned before the failure', () => {
    const { sim, p } = setup();
    const a = p.mmap(3 * PG, RW, ANON);
    const [r, pages] = gup(p, a, 5, FOLL_WRITE);
    expect(r).toBe(3);
    expect(pages).toHaveLength(3);
    for (const pfn of pages) expect(sim.page(pfn).refcount).toBe(2);
    // a read-only VMA right after a writable one
    p.mprotect(a + 2 * PG, PG, RO);
    expect(gup(p, a, 3, FOLL_WRITE)[0]).toBe(2);
  });

  it('nr_pages 0 is 0, a negative count is -EINVAL', () => {
    const { p } = setup();
    const a = p.mmap(PG, RW, ANON);
    expect(gup(p, a, 0, 0)[0]).toBe(0);
    expect(gup(p, a, -1, 0)[0]).toBe(-EINVAL);
  });

  it('running out of memory on the first page is -ENOMEM', () => {
    const { p } = setup({ ramPages: 1 });
    const a = p.mmap(2 * PG, RW, ANON);
    expect(gup(p, a, 2, FOLL_WRITE)[0]).toBe(1);
    expect(gup(p, a + PG, 1, FOLL_WRITE)[0]).toBe(-ENOMEM);
  });

  it('a pinned page outlives munmap and is freed by the last put_page', () => {
    const { sim, p } = setup();
    const a = p.mmap(PG, RW, ANON);
    const [, [pfn]] = gup(p, a, 1, FOLL_WRITE);
    const free = sim.stats().freePages;
    p.munmap(a, PG);
    expect(sim.page(pfn as number)).toMatchObject({
      refcount: 1,
      mapcount: 0,
      flags: ['anon', 'swapbacked'],
    });
    expect(sim.stats().freePages).toBe(free);
    sim.kernel.mem.putPage(pfn as number);
    expect(sim.page(pfn as number).flags).toEqual(['buddy']);
    expect(sim.stats().freePages).toBe(free + 1);
  });

  it('file mappings: a shared one pins the page-cache page, a private FOLL_WRITE one a COW copy', () => {
    const sim = newSim();
    const f = sim.createFile(PG);
    const p = sim.createProcess();
    const s = p.mmap(PG, RW, MAP_SHARED, f);
    const [, [c]] = gup(p, s, 1, FOLL_WRITE);
    expect(c).toBe(f.mapping.findPage(0));
    expect(sim.page(c as number)).toMatchObject({ refcount: 3, mapcount: 1 });
    const m = p.mmap(PG, RW, MAP_PRIVATE, f);
    const [, [copy]] = gup(p, m, 1, FOLL_WRITE);
    expect(copy).not.toBe(c);
    expect(sim.page(copy as number).flags).toContain('anon');
  });

  it('v5.3: a page pinned before fork is COW-shared, and the parent write moves the parent away from the pin', () => {
    const { sim, p } = setup();
    const a = p.mmap(PG, RW, ANON);
    const [, [pinned]] = gup(p, a, 1, FOLL_WRITE);
    const child = p.fork();
    expect(sim.page(pinned as number)).toMatchObject({ refcount: 3, mapcount: 2 });
    p.write(a, bytes(1));
    expect(p.pte(a).pfn).not.toBe(pinned);
    expect(child.pte(a).pfn).toBe(pinned);
  });

  it('calling it without mmap_sem is a lockdep report', () => {
    const { p } = setup();
    const a = p.mmap(PG, RW, ANON);
    const e = thrown(LockdepBug, () => p.sim.run('gup', getUserPages(p.mm, a, 1, 0, [])));
    expect(e.kind).toBe('LOCKDEP');
    expect(e.message).toMatch(/lockdep_assert_held failed: gup does not hold rwsem mmap_sem/);
  });
});

describe('mm/gup: follow_page', () => {
  it('misses on none and read-only entries for a write, hits on the zero page for a read', () => {
    const { p } = setup();
    const a = p.mmap(2 * PG, RW, ANON);
    expect(followPage(p.mm, a, 0)).toBe(-1);
    p.read(a, 1);
    expect(followPage(p.mm, a, 0)).toBe(0);
    expect(followPage(p.mm, a, FOLL_WRITE)).toBe(-1);
    p.write(a + PG, bytes(1));
    expect(followPage(p.mm, a + PG, FOLL_WRITE)).toBe(p.pte(a + PG).pfn);
    p.mprotect(a + PG, PG, 0);
    expect(followPage(p.mm, a + PG, 0)).toBe(-1);
  });
});
