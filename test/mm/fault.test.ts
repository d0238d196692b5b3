import { describe, expect, it } from 'vitest';
import { HmmError, SegvError } from '../../src/core/errno.js';
import {
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  MAP_SHARED,
  PROT_NONE,
  PROT_READ,
  PROT_WRITE,
} from '../../src/mm/mmap.js';
import { pteHiOf, SWP_HWPOISON, SWP_SWAPFILE, swpEntryLo } from '../../src/mm/pte.js';
import { ANON, bytes, fill, newSim, PG, RW, SHARED_ANON, setup, thrown } from './helpers.js';

const text = (s: string) => new TextEncoder().encode(s);

describe('mm/fault: do_anonymous_page', () => {
  it('a read fault maps the shared zero page: special, read-only, pfn 0, no rss, no allocation', () => {
    const { sim, p } = setup();
    const a = p.mmap(2 * PG, RW, ANON);
    const free = sim.stats().freePages;
    expect(p.pte(a).kind).toBe('none');
    expect([...p.read(a + 10, 4)]).toEqual([0, 0, 0, 0]);
    expect(p.pte(a)).toMatchObject({ kind: 'present', pfn: 0, write: false, dirty: false, special: true });
    expect(p.pte(a).text).toBe('present pfn=0 ro,special');
    expect(p.pte(a + PG).kind).toBe('none');
    expect(p.rss()).toEqual({ anon: 0, file: 0, shmem: 0, swapents: 0 });
    expect(sim.stats().freePages).toBe(free);
    expect(sim.page(0)).toMatchObject({ refcount: 1, mapcount: 0, flags: ['reserved'] });
    expect(sim.stats().counters.pgfault).toBe(1);
  });

  it('a write fault allocates a zeroed page mapped once, writable and dirty, charged to the memcg', () => {
    const sim = newSim();
    const cg = sim.createMemcg('cg', 16);
    const p = sim.createProcess({ memcg: cg });
    const a = p.mmap(2 * PG, RW, ANON);
    const free = sim.stats().freePages;
    p.write(a + 8, bytes(1, 2, 3));
    const pte = p.pte(a);
    expect(pte).toMatchObject({ kind: 'present', write: true, dirty: true, special: false });
    expect(pte.pfn).toBeGreaterThan(0);
    expect(sim.page(pte.pfn)).toMatchObject({
      refcount: 1,
      mapcount: 1,
      flags: ['anon', 'swapbacked'],
      memcg: 'cg',
      zone: 'normal',
    });
    expect(p.rss()).toEqual({ anon: 1, file: 0, shmem: 0, swapents: 0 });
    expect(cg.usagePages).toBe(1);
    expect(sim.stats().freePages).toBe(free - 1);
    expect([...p.read(a + 6, 6)]).toEqual([0, 0, 1, 2, 3, 0]);
  });

  it('a write after a read replaces the zero page with a new page (COW from the zero page)', () => {
    const { sim, p } = setup();
    const a = p.mmap(PG, RW, ANON);
    p.read(a, 1);
    p.write(a + 100, bytes(0xaa));
    const pte = p.pte(a);
    expect(pte.pfn).not.toBe(0);
    expect(pte).toMatchObject({ kind: 'present', write: true, dirty: true, special: false });
    expect(sim.page(pte.pfn)).toMatchObject({ refcount: 1, mapcount: 1 });
    expect(sim.page(0)).toMatchObject({ refcount: 1, mapcount: 0 });
    expect(p.rss().anon).toBe(1);
    expect(sim.stats().counters.cow).toBe(1);
    expect([...p.read(a + 99, 3)]).toEqual([0, 0xaa, 0]);
  });
});

describe('mm/fault: do_wp_page', () => {
  it('a write to a page shared after fork copies it: the writer gets a new page, the other keeps the old', () => {
    const { sim, p } = setup();
    const a = p.mmap(PG, RW, ANON);
    p.write(a, text('parent'));
    const old = p.pte(a).pfn;
    const child = p.fork();
    expect(child.pte(a).pfn).toBe(old);
    expect(sim.page(old)).toMatchObject({ refcount: 2, mapcount: 2 });
    const free = sim.stats().freePages;

    child.write(a, text('child!'));
    const fresh = child.pte(a).pfn;
    expect(fresh).not.toBe(old);
    expect(child.pte(a)).toMatchObject({ kind: 'present', write: true, dirty: true });
    expect(sim.page(old)).toMatchObject({ refcount: 1, mapcount: 1 });
    expect(sim.page(fresh)).toMatchObject({ refcount: 1, mapcount: 1, flags: ['anon', 'swapbacked'] });
    expect(sim.stats().freePages).toBe(free - 1);
    expect(sim.stats().counters.cow).toBe(1);
    expect(new TextDecoder().decode(p.read(a, 6))).toBe('parent');
    expect(new TextDecoder().decode(child.read(a, 6))).toBe('child!');
    expect(p.rss().anon).toBe(1);
    expect(child.rss().anon).toBe(1);

    // the parent is now the only mapper: its write reuses the old page
    expect(p.pte(a)).toMatchObject({ pfn: old, write: false });
    p.write(a, text('P'));
    expect(p.pte(a)).toMatchObject({ pfn: old, write: true, dirty: true });
    expect(sim.stats().counters.cow).toBe(1);
  });

  it('reuse: after mprotect(RO) then mprotect(RW) the PTE stays read-only until the write, which reuses the page', () => {
    const { sim, p } = setup();
    const a = p.mmap(PG, RW, ANON);
    p.write(a, bytes(5));
    const pfn = p.pte(a).pfn;
    p.mprotect(a, PG, PROT_READ);
    expect(p.pte(a)).toMatchObject({ kind: 'present', pfn, write: false, dirty: true });
    p.mprotect(a, PG, RW);
    // v5.3 maps private VMAs with PAGE_COPY: the write permission comes back only through the fault
    expect(p.pte(a)).toMatchObject({ kind: 'present', pfn, write: false, dirty: true });
    const free = sim.stats().freePages;
    p.write(a, bytes(6));
    expect(p.pte(a)).toMatchObject({ kind: 'present', pfn, write: true, dirty: true });
    expect(sim.stats().freePages).toBe(free);
    expect(sim.stats().counters.cow ?? 0).toBe(0);
    expect(sim.page(pfn)).toMatchObject({ refcount: 1, mapcount: 1 });
    expect([...p.read(a, 1)]).toEqual([6]);
  });
});

describe('mm/fault: do_fault on files (do_read_fault, do_cow_fault, do_shared_fault)', () => {
  it('a read fault maps the page-cache page: refcount 1 + mappings, rss file', () => {
    const sim = newSim();
    const f = sim.createFile(2 * PG);
    f.pwrite(text('hello'), PG);
    const cached = f.mapping.findPage(1);
    expect(sim.page(cached)).toMatchObject({ refcount: 1, mapcount: 0, flags: ['dirty'] });
    const p = sim.createProcess();
    const a = p.mmap(2 * PG, PROT_READ, MAP_PRIVATE, f);
    expect(new TextDecoder().decode(p.read(a + PG, 5))).toBe('hello');
    expect(p.pte(a + PG)).toMatchObject({ kind: 'present', pfn: cached, write: false, special: false });
    expect(sim.page(cached)).toMatchObject({ refcount: 2, mapcount: 1 });
    expect(p.rss()).toEqual({ anon: 0, file: 1, shmem: 0, swapents: 0 });
    const q = sim.createProcess();
    const b = q.mmap(PG, PROT_READ, MAP_SHARED, f, PG);
    q.read(b, 1);
    expect(q.pte(b).pfn).toBe(cached);
    expect(sim.page(cached)).toMatchObject({ refcount: 3, mapcount: 2 });
    q.munmap(b, PG);
    expect(sim.page(cached)).toMatchObject({ refcount: 2, mapcount: 1 });
  });

  it('a hole in the file is filled with a zeroed page-cache page on the first read fault', () => {
    const sim = newSim();
    const f = sim.createFile(PG);
    const p = sim.createProcess();
    const a = p.mmap(PG, PROT_READ, MAP_PRIVATE, f);
    expect(f.mapping.findPage(0)).toBe(-1);
    expect([...p.read(a, 2)]).toEqual([0, 0]);
    expect(p.pte(a).pfn).toBe(f.mapping.findPage(0));
    expect(p.pte(a).special).toBe(false);
    expect(p.rss().file).toBe(1);
  });

  it('a MAP_PRIVATE write copies into an anonymous page and leaves the file unchanged', () => {
    const sim = newSim();
    const f = sim.createFile(2 * PG);
    f.pwrite(text('file0'), 0);
    f.pwrite(text('file1'), PG);
    const p = sim.createProcess();
    const a = p.mmap(2 * PG, RW, MAP_PRIVATE, f);

    // pte none + write: do_cow_fault
    p.write(a, text('MINE'));
    const c0 = f.mapping.findPage(0);
    expect(p.pte(a)).toMatchObject({ kind: 'present', write: true, dirty: true });
    expect(p.pte(a).pfn).not.toBe(c0);
    expect(sim.page(p.pte(a).pfn)).toMatchObject({ refcount: 1, mapcount: 1, flags: ['anon', 'swapbacked'] });
    expect(sim.page(c0)).toMatchObject({ refcount: 1, mapcount: 0 });
    expect(p.rss()).toEqual({ anon: 1, file: 0, shmem: 0, swapents: 0 });
    expect(new TextDecoder().decode(p.read(a, 5))).toBe('MINE0');
    expect(new TextDecoder().decode(f.pread(5, 0))).toBe('file0');

    // read first (file page mapped read-only), then write: wp_page_copy from the page cache
    p.read(a + PG, 1);
    const c1 = f.mapping.findPage(1);
    expect(p.pte(a + PG)).toMatchObject({ pfn: c1, write: false });
    expect(p.rss().file).toBe(1);
    p.write(a + PG, text('X'));
    expect(p.pte(a + PG).pfn).not.toBe(c1);
    expect(sim.page(c1)).toMatchObject({ refcount: 1, mapcount: 0 });
    expect(p.rss()).toEqual({ anon: 2, file: 0, shmem: 0, swapents: 0 });
    expect(sim.stats().counters.cow).toBe(1);
    expect(new TextDecoder().decode(p.read(a + PG, 5))).toBe('Xile1');
    expect(new TextDecoder().decode(f.pread(5, PG))).toBe('file1');
  });

  it('a MAP_SHARED write goes to the page-cache page and is visible through pread; pwrite is visible through the mapping', () => {
    const sim = newSim();
    const f = sim.createFile(PG);
    const p = sim.createProcess();
    const a = p.mmap(PG, RW, MAP_SHARED, f);
    p.write(a + 3, text('shared'));
    const cached = f.mapping.findPage(0);
    expect(p.pte(a)).toMatchObject({ kind: 'present', pfn: cached, write: true, dirty: true });
    expect(sim.page(cached)).toMatchObject({ refcount: 2, mapcount: 1 });
    expect(sim.page(cached).flags).toContain('dirty');
    expect(p.rss()).toEqual({ anon: 0, file: 1, shmem: 0, swapents: 0 });
    expect(new TextDecoder().decode(f.pread(6, 3))).toBe('shared');
    f.pwrite(text('W'), 3);
    expect(new TextDecoder().decode(p.read(a + 3, 6))).toBe('Whared');
  });

  it('shmem (MAP_SHARED|MAP_ANONYMOUS) counts in rss shmem and is shared with a forked child', () => {
    const { sim, p } = setup();
    const free0 = sim.stats().freePages;
    const a = p.mmap(2 * PG, RW, SHARED_ANON);
    p.write(a, text('shm'));
    const pfn = p.pte(a).pfn;
    expect(p.pte(a)).toMatchObject({ kind: 'present', write: true, dirty: true, special: false });
    expect(p.rss()).toEqual({ anon: 0, file: 0, shmem: 1, swapents: 0 });
    expect(sim.page(pfn)).toMatchObject({ refcount: 2, mapcount: 1, flags: ['dirty', 'swapbacked'] });
    expect(p.vmas()[0]).toMatchObject({ perms: 'rw-s', file: '/dev/zero (deleted)' });

    const child = p.fork();
    // a shared VMA has no anon_vma: copy_page_range skips it and the child faults the page in again
    expect(child.pte(a).kind).toBe('none');
    expect(child.rss().shmem).toBe(0);
    expect(new TextDecoder().decode(child.read(a, 3))).toBe('shm');
    expect(child.pte(a).pfn).toBe(pfn);
    expect(child.rss().shmem).toBe(1);
    expect(sim.page(pfn)).toMatchObject({ refcount: 3, mapcount: 2 });
    child.write(a + 1, text('H'));
    expect(new TextDecoder().decode(p.read(a, 3))).toBe('sHm');
    expect(child.pte(a).pfn).toBe(pfn);

    child.exit();
    expect(sim.page(pfn)).toMatchObject({ refcount: 2, mapcount: 1 });
    p.exit();
    expect(sim.stats().freePages).toBe(free0);
  });

  it('shmem pages read before any write are real zeroed pages, not the zero page', () => {
    const { p } = setup();
    const a = p.mmap(PG, RW, SHARED_ANON);
    expect([...p.read(a, 1)]).toEqual([0]);
    expect(p.pte(a)).toMatchObject({ special: false, write: true, dirty: false });
    expect(p.pte(a).pfn).toBeGreaterThan(0);
    expect(p.rss().shmem).toBe(1);
  });
});

describe('mm/fault: signals (do_user_addr_fault)', () => {
  it('a read beyond EOF of a file mapping is SIGBUS; the partial page past EOF reads as zeros', () => {
    const sim = newSim();
    const f = sim.createFile(PG + 1000);
    f.pwrite(fill(PG + 1000, 7), 0);
    const p = sim.createProcess();
    const a = p.mmap(3 * PG, PROT_READ, MAP_PRIVATE, f);
    expect([...p.read(a + PG + 998, 4)]).toEqual([7, 7, 0, 0]);
    const e = thrown(SegvError, () => p.read(a + 2 * PG + 12, 1));
    expect(e).toMatchObject({ signal: 'SIGBUS', addr: a + 2 * PG + 12, write: false });
    expect(p.pte(a + 2 * PG).kind).toBe('none');
    const q = sim.createProcess();
    const b = q.mmap(3 * PG, RW, MAP_SHARED, f);
    expect(thrown(SegvError, () => q.write(b + 2 * PG, bytes(1)))).toMatchObject({
      signal: 'SIGBUS',
      addr: b + 2 * PG,
      write: true,
    });
  });

  it('an access outside any VMA is SIGSEGV at the first byte that faults', () => {
    const { p } = setup();
    const a = p.mmap(PG, RW, ANON);
    expect(thrown(SegvError, () => p.read(a - PG + 5, 1))).toMatchObject({
      signal: 'SIGSEGV',
      addr: a - PG + 5,
      write: false,
    });
    expect(thrown(SegvError, () => p.write(a + PG, bytes(1)))).toMatchObject({
      signal: 'SIGSEGV',
      addr: a + PG,
      write: true,
    });
    // an access that runs off the end of the VMA: the bytes before the end are written
    expect(thrown(SegvError, () => p.write(a + PG - 2, bytes(1, 2, 3, 4)))).toMatchObject({
      addr: a + PG,
      write: true,
    });
    expect([...p.read(a + PG - 2, 2)]).toEqual([1, 2]);
  });

  it('an access the VMA does not allow is SIGSEGV and maps nothing', () => {
    const { p } = setup();
    const ro = p.mmap(PG, PROT_READ, ANON);
    expect(thrown(SegvError, () => p.write(ro, bytes(1)))).toMatchObject({ signal: 'SIGSEGV', write: true });
    expect(p.pte(ro).kind).toBe('none');
    p.read(ro, 1);
    expect(thrown(SegvError, () => p.write(ro, bytes(1)))).toMatchObject({ signal: 'SIGSEGV', write: true });
    expect(p.pte(ro)).toMatchObject({ pfn: 0, special: true });
    const none = p.mmap(PG, PROT_NONE, ANON);
    expect(thrown(SegvError, () => p.read(none, 1))).toMatchObject({ signal: 'SIGSEGV', write: false });
    expect(p.pte(none).kind).toBe('none');
    // x86: a writable mapping is readable
    const wo = p.mmap(PG, PROT_WRITE, ANON);
    expect([...p.read(wo, 1)]).toEqual([0]);
    p.write(wo, bytes(3));
    expect([...p.read(wo, 1)]).toEqual([3]);
    expect(p.rss().anon).toBe(1);
  });

  it('a hwpoison entry is SIGBUS, and so is a swapped-out entry (the model has no swap device)', () => {
    const { sim, p } = setup();
    const a = p.mmap(2 * PG, RW, ANON);
    p.read(a, 1);
    p.read(a + PG, 1);
    const { pt } = sim.kernel;
    pt.set(pt.pteSlot(p.mm.pgd, a), swpEntryLo(SWP_HWPOISON, 3), pteHiOf(3));
    pt.set(pt.pteSlot(p.mm.pgd, a + PG), swpEntryLo(SWP_SWAPFILE, 4), pteHiOf(4));
    expect(p.pte(a).kind).toBe('hwpoison');
    expect(p.pte(a + PG).kind).toBe('swap');
    expect(thrown(SegvError, () => p.read(a, 1)).signal).toBe('SIGBUS');
    expect(thrown(SegvError, () => p.write(a + PG, bytes(1))).signal).toBe('SIGBUS');
  });
});

describe('mm/fault: out of memory (VM_FAULT_OOM)', () => {
  it('when RAM is exhausted the faulting access fails with HmmError ENOMEM and maps nothing', () => {
    const { sim, p } = setup({ ramPages: 3 });
    const a = p.mmap(4 * PG, RW, ANON);
    p.write(a, fill(3 * PG, 1));
    expect(sim.stats().freePages).toBe(0);
    const e = thrown(HmmError, () => p.write(a + 3 * PG, bytes(1)));
    expect(e.code).toBe('ENOMEM');
    expect(e.errno).toBe(12);
    expect(p.pte(a + 3 * PG).kind).toBe('none');
    expect(p.rss().anon).toBe(3);
    // a read still works: the zero page needs no memory
    expect([...p.read(a + 3 * PG, 1)]).toEqual([0]);
    // and a COW from the zero page fails the same way
    expect(thrown(HmmError, () => p.write(a + 3 * PG, bytes(1))).code).toBe('ENOMEM');
    expect(p.pte(a + 3 * PG)).toMatchObject({ pfn: 0, special: true });
    p.munmap(a, PG);
    p.write(a + 3 * PG, bytes(1));
    expect(p.rss().anon).toBe(3);
  });

  it('when the memcg limit is hit the fault fails with ENOMEM and memory.failcnt increments', () => {
    const sim = newSim();
    const cg = sim.createMemcg('small', 2);
    const p = sim.createProcess({ memcg: cg });
    const a = p.mmap(4 * PG, RW, ANON);
    const free = sim.stats().freePages;
    p.write(a, fill(2 * PG, 1));
    expect(cg.usagePages).toBe(2);
    expect(cg.failcnt).toBe(0);
    expect(thrown(HmmError, () => p.write(a + 2 * PG, bytes(1))).code).toBe('ENOMEM');
    expect(cg.failcnt).toBe(1);
    expect(cg.usagePages).toBe(2);
    expect(cg.maxUsagePages).toBe(2);
    // the page allocated before the charge failed went back to the allocator
    expect(sim.stats().freePages).toBe(free - 2);
    expect(p.pte(a + 2 * PG).kind).toBe('none');
    // a file page cache charge fails the same way
    const f = sim.createFile(PG);
    const b = p.mmap(PG, PROT_READ, MAP_PRIVATE, f);
    expect(thrown(HmmError, () => p.read(b, 1)).code).toBe('ENOMEM');
    expect(cg.failcnt).toBe(2);
    // another cgroup is unaffected
    const q = sim.createProcess();
    const c = q.mmap(PG, RW, MAP_PRIVATE | MAP_ANONYMOUS);
    q.write(c, bytes(1));
    expect(q.rss().anon).toBe(1);
  });
});
