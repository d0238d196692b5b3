import { describe, expect, it } from 'vitest';
import { ArgumentError, HmmError } from '../../src/core/errno.js';
import { MADV_DONTNEED, MADV_NORMAL, MADV_POPULATE_READ, MADV_POPULATE_WRITE } from '../../src/mm/madvise.js';
import { MAP_LOCKED, MAP_PRIVATE, MAP_SHARED, PROT_NONE, PROT_READ } from '../../src/mm/mmap.js';
import { ANON, bytes, fill, newSim, PG, RO, RW, setup, thrown } from './helpers.js';

const text = (s: string) => new TextEncoder().encode(s);
const str = (b: Uint8Array) => new TextDecoder().decode(b);

describe('mm/madvise: MADV_DONTNEED (zap_page_range)', () => {
  it('drops anonymous pages: PTEs none, rss 0, pages and charges freed, reads back zeros', () => {
    const sim = newSim();
    const cg = sim.createMemcg('cg', 100);
    const p = sim.createProcess({ memcg: cg });
    const free = sim.stats().freePages;
    const a = p.mmap(3 * PG, RW, ANON);
    p.write(a, fill(3 * PG, 5));
    const pfn = p.pte(a).pfn;
    expect(cg.usagePages).toBe(3);
    p.madvise(a, 3 * PG, MADV_DONTNEED);
    for (let i = 0; i < 3; i++) expect(p.pte(a + i * PG).kind).toBe('none');
    expect(p.rss()).toEqual({ anon: 0, file: 0, shmem: 0, swapents: 0 });
    expect(sim.stats().freePages).toBe(free);
    expect(sim.page(pfn).flags).toEqual(['buddy']);
    expect(cg.usagePages).toBe(0);
    expect([...p.read(a + PG, 4)]).toEqual([0, 0, 0, 0]);
    expect(p.pte(a + PG)).toMatchObject({ pfn: 0, special: true });
    expect(p.vmas()).toHaveLength(1);
    expect(sim.stats().counters.madv_dontneed).toBe(1);
  });

  it('on a private file mapping the COW copies go and the file contents reappear', () => {
    const sim = newSim();
    const f = sim.createFile(2 * PG);
    f.pwrite(text('original'), 0);
    const p = sim.createProcess();
    const a = p.mmap(2 * PG, RW, MAP_PRIVATE, f);
    p.write(a, text('modified'));
    p.read(a + PG, 1);
    expect(p.rss()).toEqual({ anon: 1, file: 1, shmem: 0, swapents: 0 });
    const c1 = f.mapping.findPage(1);
    p.madvise(a, 2 * PG, MADV_DONTNEED);
    expect(p.rss()).toEqual({ anon: 0, file: 0, shmem: 0, swapents: 0 });
    expect(sim.page(c1)).toMatchObject({ refcount: 1, mapcount: 0 });
    expect(str(p.read(a, 8))).toBe('original');
    expect(p.pte(a).pfn).toBe(f.mapping.findPage(0));
    expect(p.rss().file).toBe(1);
  });

  it('on a shared file mapping the data stays in the page cache', () => {
    const sim = newSim();
    const f = sim.createFile(PG);
    const p = sim.createProcess();
    const a = p.mmap(PG, RW, MAP_SHARED, f);
    p.write(a, text('kept'));
    p.madvise(a, PG, MADV_DONTNEED);
    expect(p.pte(a).kind).toBe('none');
    expect(str(f.pread(4, 0))).toBe('kept');
    expect(str(p.read(a, 4))).toBe('kept');
  });

  it('a VM_LOCKED (MAP_LOCKED) VMA is EINVAL and keeps its pages', () => {
    const { p } = setup();
    const a = p.mmap(2 * PG, RW, ANON | MAP_LOCKED);
    p.write(a, fill(2 * PG, 3));
    const e = thrown(HmmError, () => p.madvise(a, 2 * PG, MADV_DONTNEED));
    expect(e.code).toBe('EINVAL');
    expect(p.pte(a).kind).toBe('present');
    expect(p.rss().anon).toBe(2);
  });

  it('a VM_PFNMAP mapping is EINVAL', () => {
    const { p } = setup();
    const a = p.mmapSpecial(PG, PROT_READ, 'pfnmap');
    expect(thrown(HmmError, () => p.madvise(a, PG, MADV_DONTNEED)).code).toBe('EINVAL');
    expect(p.pte(a)).toMatchObject({ kind: 'present', special: true });
  });

  it('a hole in the range is ENOMEM, reported after the mapped parts on both sides were dropped', () => {
    const { sim, p } = setup();
    const free = sim.stats().freePages;
    const a = p.mmap(4 * PG, RW, ANON);
    p.write(a, fill(4 * PG, 1));
    p.munmap(a + PG, PG);
    expect(thrown(HmmError, () => p.madvise(a, 4 * PG, MADV_DONTNEED)).code).toBe('ENOMEM');
    expect(p.pte(a).kind).toBe('none');
    expect(p.pte(a + 2 * PG).kind).toBe('none');
    expect(p.pte(a + 3 * PG).kind).toBe('none');
    expect(p.rss().anon).toBe(0);
    expect(sim.stats().freePages).toBe(free);
    // a range starting in the hole, and a range entirely in a hole
    p.write(a + 2 * PG, bytes(1));
    expect(thrown(HmmError, () => p.madvise(a + PG, 2 * PG, MADV_DONTNEED)).code).toBe('ENOMEM');
    expect(p.pte(a + 2 * PG).kind).toBe('none');
    expect(thrown(HmmError, () => p.madvise(a - 4 * PG, PG, MADV_DONTNEED)).code).toBe('ENOMEM');
  });

  it('a range running past the top of user space is handled up to its hole, then ENOMEM (v5.3 has no TASK_SIZE check)', () => {
    const { p } = setup();
    const a = p.mmap(PG, RW, ANON);
    p.write(a, bytes(1));
    expect(thrown(HmmError, () => p.madvise(a, 2 ** 47, MADV_DONTNEED)).code).toBe('ENOMEM');
    expect(p.pte(a).kind).toBe('none');
  });

  it('argument checks: unaligned address, unknown advice; length 0 and MADV_NORMAL do nothing', () => {
    const { p } = setup();
    const a = p.mmap(PG, RW, ANON);
    p.write(a, bytes(1));
    expect(thrown(ArgumentError, () => p.madvise(a + 1, PG, MADV_DONTNEED)).argument).toBe('addr');
    expect(thrown(ArgumentError, () => p.madvise(a, PG, 99)).argument).toBe('advice');
    p.madvise(a, 0, MADV_DONTNEED);
    p.madvise(a, PG, MADV_NORMAL);
    p.madvise(a - 8 * PG, 0, MADV_DONTNEED);
    expect(p.pte(a).kind).toBe('present');
  });
});

describe('mm/madvise: MADV_POPULATE_READ / MADV_POPULATE_WRITE', () => {
  it('POPULATE_READ on anonymous memory maps the zero page; POPULATE_WRITE allocates', () => {
    const { sim, p } = setup();
    const a = p.mmap(4 * PG, RW, ANON);
    p.madvise(a, 2 * PG, MADV_POPULATE_READ);
    expect(p.pte(a)).toMatchObject({ kind: 'present', pfn: 0, special: true });
    expect(p.pte(a + PG)).toMatchObject({ kind: 'present', pfn: 0, special: true });
    expect(p.pte(a + 2 * PG).kind).toBe('none');
    expect(p.rss().anon).toBe(0);
    p.madvise(a, 4 * PG, MADV_POPULATE_WRITE);
    for (let i = 0; i < 4; i++) {
      expect(p.pte(a + i * PG)).toMatchObject({ kind: 'present', write: true, special: false });
    }
    expect(p.rss().anon).toBe(4);
    expect(sim.stats().counters.cow).toBe(2);
    // already writable: nothing changes
    const pfn = p.pte(a).pfn;
    p.madvise(a, 4 * PG, MADV_POPULATE_WRITE);
    expect(p.pte(a).pfn).toBe(pfn);
    expect(p.rss().anon).toBe(4);
  });

  it('pages already mapped the way asked take no page fault (pgfault counts handle_mm_fault calls)', () => {
    const { sim, p } = setup();
    const a = p.mmap(4 * PG, RW, ANON);
    p.madvise(a, 4 * PG, MADV_POPULATE_WRITE);
    expect(sim.stats().counters.pgfault).toBe(4);
    p.madvise(a, 4 * PG, MADV_POPULATE_WRITE);
    p.madvise(a, 4 * PG, MADV_POPULATE_READ);
    expect(sim.stats().counters.pgfault).toBe(4);
  });

  it('POPULATE_READ on a file maps the page-cache pages; beyond EOF it is EFAULT', () => {
    const sim = newSim();
    const f = sim.createFile(2 * PG);
    const p = sim.createProcess();
    const a = p.mmap(3 * PG, RO, MAP_PRIVATE, f);
    const e = thrown(HmmError, () => p.madvise(a, 3 * PG, MADV_POPULATE_READ));
    expect(e.code).toBe('EFAULT');
    expect(p.pte(a).pfn).toBe(f.mapping.findPage(0));
    expect(p.pte(a + PG).pfn).toBe(f.mapping.findPage(1));
    expect(p.rss().file).toBe(2);
  });

  it('a VMA without the needed permission is EINVAL, as are VM_PFNMAP mappings', () => {
    const { p } = setup();
    const ro = p.mmap(PG, RO, ANON);
    const pfnmap = p.mmapSpecial(PG, PROT_READ, 'pfnmap');
    expect(thrown(HmmError, () => p.madvise(pfnmap, PG, MADV_POPULATE_READ)).code).toBe('EINVAL');
    // faultin_vma_page_range: "report -EINVAL instead of -EFAULT for any permission problems"
    expect(thrown(HmmError, () => p.madvise(ro, PG, MADV_POPULATE_WRITE)).code).toBe('EINVAL');
    const none = p.mmap(PG, PROT_NONE, ANON);
    expect(thrown(HmmError, () => p.madvise(none, PG, MADV_POPULATE_READ)).code).toBe('EINVAL');
    expect(p.pte(ro).kind).toBe('none');
  });

  it('a hole is ENOMEM; running out of memory is ENOMEM', () => {
    const { p } = setup({ ramPages: 2 });
    const a = p.mmap(4 * PG, RW, ANON);
    p.munmap(a + PG, PG);
    expect(thrown(HmmError, () => p.madvise(a, 2 * PG, MADV_POPULATE_READ)).code).toBe('ENOMEM');
    expect(p.pte(a).kind).toBe('present');
    p.madvise(a, PG, MADV_POPULATE_WRITE);
    expect(p.rss().anon).toBe(1);
    expect(thrown(HmmError, () => p.madvise(a + 2 * PG, 2 * PG, MADV_POPULATE_WRITE)).code).toBe('ENOMEM');
    expect(p.pte(a + 2 * PG)).toMatchObject({ kind: 'present', write: true });
    expect(p.pte(a + 3 * PG).kind).toBe('none');
  });
});

describe('mm/madvise: MADV_DONTNEED on COW-shared pages', () => {
  it('the child drops only its mapping; the parent is left as the single mapper and reuses the page', () => {
    const { sim, p } = setup();
    const a = p.mmap(PG, RW, ANON);
    p.write(a, bytes(1));
    const pfn = p.pte(a).pfn;
    const child = p.fork();
    child.madvise(a, PG, MADV_DONTNEED);
    expect(child.pte(a).kind).toBe('none');
    expect(child.rss().anon).toBe(0);
    expect(sim.page(pfn)).toMatchObject({ refcount: 1, mapcount: 1 });
    expect([...child.read(a, 1)]).toEqual([0]);
    p.write(a, bytes(2));
    expect(p.pte(a).pfn).toBe(pfn);
    expect(sim.stats().counters.cow ?? 0).toBe(0);
  });
});
