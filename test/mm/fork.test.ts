import { describe, expect, it } from 'vitest';
import { SegvError } from '../../src/core/errno.js';
import { MAP_PRIVATE, MAP_SHARED, PROT_NONE, PROT_READ } from '../../src/mm/mmap.js';
import { VM_DONTCOPY, VM_PFNMAP } from '../../src/mm/vma.js';
import { ANON, bytes, fill, newSim, PG, RW, SHARED_ANON, setup, thrown } from './helpers.js';

describe('mm/fork: dup_mmap and copy_page_range', () => {
  it('write-protects a COW mapping on both sides and shares its pages (refcount, mapcount, rss)', () => {
    const { sim, p } = setup();
    const a = p.mmap(3 * PG, RW, ANON);
    p.write(a, fill(2 * PG, 1));
    const pfns = [p.pte(a).pfn, p.pte(a + PG).pfn];
    expect(p.pte(a).write).toBe(true);
    const free = sim.stats().freePages;
    const child = p.fork();
    expect(sim.stats().freePages).toBe(free);
    for (let i = 0; i < 2; i++) {
      const pfn = pfns[i] as number;
      expect(p.pte(a + i * PG)).toMatchObject({ kind: 'present', pfn, write: false, dirty: true });
      // private mappings keep the dirty bit in the child (only shared ones are cleaned)
      expect(child.pte(a + i * PG)).toMatchObject({ kind: 'present', pfn, write: false, dirty: true });
      expect(sim.page(pfn)).toMatchObject({ refcount: 2, mapcount: 2 });
    }
    expect(child.pte(a + 2 * PG).kind).toBe('none');
    expect(p.rss().anon).toBe(2);
    expect(child.rss()).toEqual({ anon: 2, file: 0, shmem: 0, swapents: 0 });
    expect(child.vmas()).toEqual(p.vmas());
    expect(child.pid).not.toBe(p.pid);
    expect(sim.stats().counters.fork).toBe(1);
    expect([...child.read(a + PG - 1, 2)]).toEqual([1, 1]);
  });

  it('shared mappings stay writable in the parent and are faulted in shared by the child', () => {
    const sim = newSim();
    const f = sim.createFile(PG);
    const p = sim.createProcess();
    const s = p.mmap(PG, RW, SHARED_ANON);
    const m = p.mmap(PG, RW, MAP_SHARED, f);
    p.write(s, bytes(1));
    p.write(m, bytes(2));
    const child = p.fork();
    expect(p.pte(s)).toMatchObject({ kind: 'present', write: true });
    expect(p.pte(m)).toMatchObject({ kind: 'present', write: true });
    expect(child.pte(s).kind).toBe('none');
    expect(child.pte(m).kind).toBe('none');
    child.write(s, bytes(3));
    child.write(m, bytes(4));
    expect(child.pte(s).pfn).toBe(p.pte(s).pfn);
    expect(child.pte(m).pfn).toBe(f.mapping.findPage(0));
    expect([...p.read(s, 1)]).toEqual([3]);
    expect([...p.read(m, 1)]).toEqual([4]);
    expect(sim.stats().counters.cow ?? 0).toBe(0);
    expect(child.rss()).toEqual({ anon: 0, file: 1, shmem: 1, swapents: 0 });
  });

  it('an anonymous VMA that only ever mapped the zero page has no anon_vma and is not copied', () => {
    const { sim, p } = setup();
    const a = p.mmap(2 * PG, RW, ANON);
    p.read(a, 1);
    expect(p.pte(a)).toMatchObject({ kind: 'present', pfn: 0, special: true });
    const tables = sim.kernel.pt.live;
    const child = p.fork();
    expect(child.pte(a).kind).toBe('none');
    expect(child.vmas()).toEqual(p.vmas());
    expect(sim.kernel.pt.live).toBe(tables + 1); // only the child's pgd
    expect([...child.read(a, 1)]).toEqual([0]);
    expect(child.pte(a)).toMatchObject({ kind: 'present', pfn: 0, special: true });
  });

  it('in a copied VMA the zero page stays a special read-only mapping in the child', () => {
    const { p } = setup();
    const a = p.mmap(2 * PG, RW, ANON);
    p.write(a, bytes(1));
    p.read(a + PG, 1);
    const child = p.fork();
    expect(child.pte(a + PG)).toMatchObject({ kind: 'present', pfn: 0, special: true, write: false });
    expect(child.rss().anon).toBe(1);
  });

  it('a private file mapping with an anon_vma is copied with its file pages and its COW copies', () => {
    const sim = newSim();
    const f = sim.createFile(2 * PG);
    const p = sim.createProcess();
    const a = p.mmap(2 * PG, RW, MAP_PRIVATE, f);
    p.read(a, 1);
    p.write(a + PG, bytes(9));
    const filePfn = f.mapping.findPage(0);
    const child = p.fork();
    expect(child.pte(a).pfn).toBe(filePfn);
    expect(sim.page(filePfn)).toMatchObject({ refcount: 3, mapcount: 2 });
    expect(child.rss()).toEqual({ anon: 1, file: 1, shmem: 0, swapents: 0 });
    child.write(a, bytes(5));
    expect(sim.page(filePfn)).toMatchObject({ refcount: 2, mapcount: 1 });
    expect(child.rss()).toEqual({ anon: 2, file: 0, shmem: 0, swapents: 0 });
    expect([...f.pread(1, 0)]).toEqual([0]);
  });

  it('PROT_NONE pages are copied as protnone entries and stay shared', () => {
    const { sim, p } = setup();
    const a = p.mmap(PG, RW, ANON);
    p.write(a, bytes(1));
    p.mprotect(a, PG, PROT_NONE);
    const child = p.fork();
    expect(child.pte(a)).toMatchObject({ kind: 'protnone', pfn: p.pte(a).pfn });
    expect(sim.page(p.pte(a).pfn)).toMatchObject({ refcount: 2, mapcount: 2 });
    child.mprotect(a, PG, RW);
    child.write(a, bytes(2));
    expect(child.pte(a).pfn).not.toBe(p.pte(a).pfn);
    p.mprotect(a, PG, PROT_READ);
    expect([...p.read(a, 1)]).toEqual([1]);
  });

  it('VM_DONTCOPY (a pfnmap special mapping) is not present in the child', () => {
    const { p } = setup();
    const s = p.mmapSpecial(2 * PG, PROT_READ, 'pfnmap');
    const a = p.mmap(PG, RW, ANON);
    expect(p.vmas().find((v) => v.start === s)?.flags ?? 0).toSatisfy(
      (f: number) => (f & (VM_DONTCOPY | VM_PFNMAP)) === (VM_DONTCOPY | VM_PFNMAP),
    );
    expect(p.pte(s)).toMatchObject({ kind: 'present', pfn: 0, special: true, write: false });
    const child = p.fork();
    expect(child.vmas().map((v) => v.start)).toEqual([a]);
    expect(child.pte(s).kind).toBe('none');
    expect(thrown(SegvError, () => child.read(s, 1))).toMatchObject({ addr: s, signal: 'SIGSEGV' });
    expect([...p.read(s, 2)]).toEqual([0, 0]);
  });

  it('a mixedmap mapping (vm_insert_page pages) is copied and COW-protected', () => {
    const { sim, p } = setup();
    const s = p.mmapSpecial(PG, RW, 'mixedmap');
    const pfn = p.pte(s).pfn;
    expect(sim.page(pfn)).toMatchObject({ refcount: 1, mapcount: 1 });
    expect(p.rss().file).toBe(1);
    const child = p.fork();
    expect(child.pte(s)).toMatchObject({ kind: 'present', pfn, write: false });
    expect(sim.page(pfn)).toMatchObject({ refcount: 2, mapcount: 2 });
    expect(child.rss().file).toBe(1);
  });
});

describe('mm/fork: COW after fork, and exit', () => {
  it('exit of the child frees the pages only it maps and drops its references to the shared ones', () => {
    const { sim, p } = setup();
    const a = p.mmap(2 * PG, RW, ANON);
    p.write(a, fill(2 * PG, 1));
    const free = sim.stats().freePages;
    const tables = sim.kernel.pt.live;
    const child = p.fork();
    child.write(a, bytes(2)); // child's own copy of page 0
    expect(sim.stats().freePages).toBe(free - 1);
    child.exit();
    expect(sim.stats().freePages).toBe(free);
    expect(sim.kernel.pt.live).toBe(tables);
    expect(sim.page(p.pte(a).pfn)).toMatchObject({ refcount: 1, mapcount: 1 });
    expect(sim.page(p.pte(a + PG).pfn)).toMatchObject({ refcount: 1, mapcount: 1 });
    // the parent's pages are exclusive again: writes reuse them
    const pfn = p.pte(a + PG).pfn;
    p.write(a + PG, bytes(3));
    expect(p.pte(a + PG).pfn).toBe(pfn);
    expect(sim.stats().counters.cow).toBe(1);
  });

  it('a grandchild shares the pages with both ancestors until someone writes', () => {
    const { sim, p } = setup();
    const a = p.mmap(PG, RW, ANON);
    p.write(a, bytes(1));
    const pfn = p.pte(a).pfn;
    const child = p.fork();
    const grandchild = child.fork();
    expect(sim.page(pfn)).toMatchObject({ refcount: 3, mapcount: 3 });
    grandchild.write(a, bytes(3));
    expect(sim.page(pfn)).toMatchObject({ refcount: 2, mapcount: 2 });
    child.write(a, bytes(2));
    expect(sim.page(pfn)).toMatchObject({ refcount: 1, mapcount: 1 });
    expect([p, child, grandchild].map((x) => x.read(a, 1)[0])).toEqual([1, 2, 3]);
    // the last mapper reuses
    p.write(a, bytes(4));
    expect(p.pte(a).pfn).toBe(pfn);
    for (const x of [grandchild, child, p]) x.exit();
    expect(sim.stats().usedPages).toBe(0);
    expect(sim.kernel.pt.live).toBe(0);
  });

  it('COW copies made by a child are charged to the memcg of the parent it inherited', () => {
    const sim = newSim();
    const cg = sim.createMemcg('cg', 10);
    const p = sim.createProcess({ memcg: cg });
    const a = p.mmap(PG, RW, ANON);
    p.write(a, bytes(1));
    const child = p.fork();
    child.write(a, bytes(2));
    expect(cg.usagePages).toBe(2);
    expect(sim.page(child.pte(a).pfn).memcg).toBe('cg');
    child.exit();
    expect(cg.usagePages).toBe(1);
  });

  it('a forked mm survives the parent exit', () => {
    const { sim, p } = setup();
    const a = p.mmap(PG, RW, ANON);
    p.write(a, bytes(7));
    const child = p.fork();
    p.exit();
    expect([...child.read(a, 1)]).toEqual([7]);
    expect(sim.page(child.pte(a).pfn)).toMatchObject({ refcount: 1, mapcount: 1 });
    child.write(a, bytes(8));
    expect(sim.stats().counters.cow ?? 0).toBe(0);
  });
});
