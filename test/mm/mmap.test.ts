import { describe, expect, it } from 'vitest';
import { MMAP_BASE, PMD_SIZE, TASK_SIZE } from '../../src/core/addr.js';
import { ArgumentError, HmmError } from '../../src/core/errno.js';
import {
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_LOCKED,
  MAP_POPULATE,
  MAP_PRIVATE,
  MAP_SHARED,
  PROT_EXEC,
  PROT_READ,
} from '../../src/mm/mmap.js';
import { VM_LOCKED, VM_MAYREAD, VM_MAYWRITE, VM_READ, VM_WRITE } from '../../src/mm/vma.js';
import { ANON, bytes, fill, mmapAt, newSim, PG, RO, RW, SHARED_ANON, setup, thrown } from './helpers.js';

function spans(vmas: { start: number; end: number; perms: string }[]): string[] {
  return vmas.map((v) => `${v.start.toString(16)}-${v.end.toString(16)} ${v.perms}`);
}
const h = (x: number) => x.toString(16);

describe('mm/mmap: do_mmap and get_unmapped_area', () => {
  it('places mappings top-down below mmap_base and rounds the length up to pages', () => {
    const { p } = setup();
    const a = p.mmap(5000, RO, ANON);
    expect(a).toBe(MMAP_BASE - 2 * PG);
    const b = p.mmap(PG, RW, ANON);
    expect(b).toBe(a - PG);
    expect(spans(p.vmas())).toEqual([`${h(b)}-${h(a)} rw-p`, `${h(a)}-${h(MMAP_BASE)} r--p`]);
    expect(p.vmas()[1]?.flags).toBe(VM_READ | VM_MAYREAD | VM_MAYWRITE | 0x40);
  });

  it('merges a new anonymous mapping with a compatible neighbour (vma_merge)', () => {
    const { p } = setup();
    const a = p.mmap(2 * PG, RW, ANON);
    p.write(a, bytes(1)); // the first VMA now has an anon_vma
    const b = p.mmap(PG, RW, ANON);
    expect(b).toBe(a - PG);
    expect(spans(p.vmas())).toEqual([`${h(b)}-${h(MMAP_BASE)} rw-p`]);
    p.write(b, bytes(2));
    expect([...p.read(b, 1)]).toEqual([2]);
    expect([...p.read(a, 1)]).toEqual([1]);
  });

  it('merges file mappings only when the file offsets are contiguous', () => {
    const sim = newSim();
    const f = sim.createFile(4 * PG);
    const p = sim.createProcess();
    const a = p.mmap(PG, RO, MAP_PRIVATE, f, PG);
    const b = p.mmap(PG, RO, MAP_PRIVATE, f, 0);
    expect(b).toBe(a - PG);
    expect(p.vmas()).toHaveLength(1);
    expect(p.vmas()[0]).toMatchObject({ start: b, end: a + PG, file: f.name });
    const c = p.mmap(PG, RO, MAP_PRIVATE, f, 3 * PG);
    expect(c).toBe(b - PG);
    expect(p.vmas()).toHaveLength(2);
    f.pwrite(bytes(0x33), 3 * PG);
    expect([...p.read(c, 1)]).toEqual([0x33]);
  });

  it('honours a free hint and falls back to top-down when the hint is taken', () => {
    const { p } = setup();
    const hint = 0x5000_0000;
    expect(mmapAt(p, hint, PG, RW, ANON)).toBe(hint);
    expect(mmapAt(p, hint, PG, RW, ANON)).toBe(MMAP_BASE - PG);
    // a hint whose range would overlap a VMA is not taken either
    expect(mmapAt(p, hint - PG, 2 * PG, RW, ANON)).toBe(MMAP_BASE - 3 * PG);
  });

  it('x86-64 rounds an unaligned hint down (addr &= PAGE_MASK)', () => {
    const { p } = setup();
    expect(mmapAt(p, 0x6000_0123, PG, RW, ANON)).toBe(0x6000_0000);
  });

  it('a hint below mmap_min_addr is raised to mmap_min_addr (round_hint_to_min)', () => {
    const { p } = setup();
    expect(mmapAt(p, 0x1000, PG, RW, ANON)).toBe(0x10000);
  });

  it('a non-fixed mmap never overlaps a VMA that straddles mmap_base', () => {
    const { p } = setup();
    const fixed = mmapAt(p, MMAP_BASE - PG, 2 * PG, PROT_READ, ANON | MAP_FIXED);
    expect(fixed).toBe(MMAP_BASE - PG);
    const a = p.mmap(PG, PROT_READ, ANON);
    expect(a + PG).toBeLessThanOrEqual(MMAP_BASE - PG);
    expect(p.vmas().reduce((n, v) => n + (v.end - v.start), 0)).toBe(3 * PG);
  });

  it('MAP_FIXED replaces what was mapped there: the old pages are freed and the range reads zeros', () => {
    const { sim, p } = setup();
    const a = p.mmap(3 * PG, RW, ANON);
    p.write(a, fill(3 * PG, 9));
    const free = sim.stats().freePages;
    const old = p.pte(a + PG).pfn;
    expect(mmapAt(p, a + PG, PG, RW, ANON | MAP_FIXED)).toBe(a + PG);
    expect(sim.page(old).flags).toEqual(['buddy']);
    expect(sim.stats().freePages).toBe(free + 1);
    expect(p.pte(a + PG).kind).toBe('none');
    expect(p.rss().anon).toBe(2);
    expect([...p.read(a + PG - 1, 2)]).toEqual([9, 0]);
    expect([...p.read(a + 2 * PG - 1, 2)]).toEqual([0, 9]);
    // same flags: the three pieces merge back into one VMA, as vma_merge does
    expect(spans(p.vmas())).toEqual([`${h(a)}-${h(a + 3 * PG)} rw-p`]);
    // different flags: three VMAs
    mmapAt(p, a + PG, PG, RO, ANON | MAP_FIXED);
    expect(spans(p.vmas())).toEqual([
      `${h(a)}-${h(a + PG)} rw-p`,
      `${h(a + PG)}-${h(a + 2 * PG)} r--p`,
      `${h(a + 2 * PG)}-${h(a + 3 * PG)} rw-p`,
    ]);
    expect(sim.stats().counters.mmap).toBe(3);
  });

  it('MAP_POPULATE faults the range in: written for private writable mappings, read otherwise', () => {
    const { sim, p } = setup();
    const a = p.mmap(3 * PG, RW, ANON | MAP_POPULATE);
    for (let i = 0; i < 3; i++)
      expect(p.pte(a + i * PG)).toMatchObject({ kind: 'present', write: true, special: false });
    expect(p.rss().anon).toBe(3);
    const b = p.mmap(2 * PG, RO, ANON | MAP_POPULATE);
    expect(p.pte(b)).toMatchObject({ kind: 'present', pfn: 0, special: true });
    const s = p.mmap(2 * PG, RW, SHARED_ANON | MAP_POPULATE);
    expect(p.pte(s + PG)).toMatchObject({ kind: 'present', special: false });
    expect(p.rss().shmem).toBe(2);
    // PROT_NONE: populate fails quietly, as mm_populate ignores errors
    const n = p.mmap(PG, 0, ANON | MAP_POPULATE);
    expect(p.pte(n).kind).toBe('none');
    expect(sim.stats().usedPages).toBe(5);
  });

  it('MAP_LOCKED sets VM_LOCKED and populates the range like mlock (mm_populate)', () => {
    const { p } = setup();
    const a = p.mmap(2 * PG, RW, ANON | MAP_LOCKED);
    expect((p.vmas()[0]?.flags ?? 0) & VM_LOCKED).toBe(VM_LOCKED);
    expect(p.pte(a)).toMatchObject({ kind: 'present', write: true });
    expect(p.pte(a + PG)).toMatchObject({ kind: 'present', write: true });
    expect(p.rss().anon).toBe(2);
  });
});

describe('mm/mmap: argument errors', () => {
  it('a zero length is ArgumentError length (mmap and munmap)', () => {
    const { p } = setup();
    expect(thrown(ArgumentError, () => p.mmap(0, RW, ANON)).argument).toBe('length');
    const a = p.mmap(PG, RW, ANON);
    expect(thrown(ArgumentError, () => p.munmap(a, 0)).argument).toBe('length');
  });

  it('an unaligned address is ArgumentError addr (munmap, MAP_FIXED)', () => {
    const { p } = setup();
    const a = p.mmap(2 * PG, RW, ANON);
    expect(thrown(ArgumentError, () => p.munmap(a + 1, PG)).argument).toBe('addr');
    expect(thrown(ArgumentError, () => mmapAt(p, a + 8, PG, RW, ANON | MAP_FIXED)).argument).toBe('addr');
    expect(p.vmas()).toHaveLength(1);
  });

  it('unknown prot or flags bits are ArgumentError prot / flags, with errno EINVAL', () => {
    const { p } = setup();
    const e = thrown(ArgumentError, () => p.mmap(PG, 0x8, ANON));
    expect(e.argument).toBe('prot');
    expect(e.code).toBe('EINVAL');
    expect(thrown(ArgumentError, () => p.mmap(PG, RW, ANON | 0x40)).argument).toBe('flags');
    expect(thrown(ArgumentError, () => p.mmap(PG, RW, MAP_ANONYMOUS)).argument).toBe('flags');
    expect(
      thrown(ArgumentError, () => p.mmap(PG, RW, MAP_SHARED | MAP_PRIVATE | MAP_ANONYMOUS)).argument,
    ).toBe('flags');
    expect(thrown(ArgumentError, () => p.mmap(PG, RW, ANON | MAP_FIXED)).argument).toBe('flags');
    expect(p.vmas()).toEqual([]);
  });

  it('file arguments: a file with MAP_ANONYMOUS, no file without it, an unaligned offset', () => {
    const sim = newSim();
    const f = sim.createFile(PG);
    const p = sim.createProcess();
    expect(thrown(ArgumentError, () => p.mmap(PG, RW, ANON, f)).argument).toBe('file');
    expect(thrown(ArgumentError, () => p.mmap(PG, RW, MAP_PRIVATE)).argument).toBe('file');
    expect(thrown(ArgumentError, () => p.mmap(PG, RW, MAP_PRIVATE, f, 100)).argument).toBe('offset');
  });

  it('a length larger than the address space is ENOMEM; so is a full address space', () => {
    const { p } = setup();
    expect(thrown(HmmError, () => p.mmap(TASK_SIZE + PG, RW, ANON)).code).toBe('ENOMEM');
    expect(thrown(HmmError, () => p.mmap(MMAP_BASE, RW, ANON)).code).toBe('ENOMEM');
    expect(thrown(HmmError, () => mmapAt(p, TASK_SIZE, PG, RW, ANON | MAP_FIXED)).code).toBe('ENOMEM');
    expect(p.vmas()).toEqual([]);
  });

  it('PROT_EXEC is accepted and shown in the permissions', () => {
    const { p } = setup();
    p.mmap(PG, PROT_READ | PROT_EXEC, ANON);
    expect(p.vmas()[0]?.perms).toBe('r-xp');
  });
});

describe('mm/mmap: do_munmap', () => {
  it('unmapping the middle of a VMA splits it; the pages outside stay mapped', () => {
    const { sim, p } = setup();
    const a = p.mmap(4 * PG, RW, ANON);
    p.write(a, fill(4 * PG, 4));
    const free = sim.stats().freePages;
    const pfns = [0, 1, 2, 3].map((i) => p.pte(a + i * PG).pfn);
    p.munmap(a + PG, 2 * PG);
    expect(spans(p.vmas())).toEqual([`${h(a)}-${h(a + PG)} rw-p`, `${h(a + 3 * PG)}-${h(a + 4 * PG)} rw-p`]);
    expect(p.pte(a + PG).kind).toBe('none');
    expect(p.pte(a + 2 * PG).kind).toBe('none');
    expect(p.pte(a).pfn).toBe(pfns[0]);
    expect(p.pte(a + 3 * PG).pfn).toBe(pfns[3]);
    expect(p.rss().anon).toBe(2);
    expect(sim.stats().freePages).toBe(free + 2);
    expect(sim.page(pfns[1] as number).flags).toEqual(['buddy']);
    // the split halves keep their contents and their anon_vma: a write reuses, no copy
    p.write(a + 3 * PG, bytes(5));
    expect(p.pte(a + 3 * PG).pfn).toBe(pfns[3]);
    expect([...p.read(a + 3 * PG, 2)]).toEqual([5, 4]);
  });

  it('unmapping the head or the tail shrinks the VMA', () => {
    const { p } = setup();
    const a = p.mmap(4 * PG, RW, ANON);
    p.munmap(a, PG);
    expect(spans(p.vmas())).toEqual([`${h(a + PG)}-${h(a + 4 * PG)} rw-p`]);
    p.munmap(a + 3 * PG, PG);
    expect(spans(p.vmas())).toEqual([`${h(a + PG)}-${h(a + 3 * PG)} rw-p`]);
  });

  it('one munmap may cover several VMAs and holes; unmapping nothing succeeds', () => {
    const { sim, p } = setup();
    const a = p.mmap(PG, RW, ANON);
    const b = p.mmap(PG, RO, ANON);
    const c = p.mmap(PG, RW, ANON);
    p.write(a, bytes(1));
    p.write(c, bytes(1));
    p.munmap(c - PG, a + 2 * PG - (c - PG));
    expect(p.vmas()).toEqual([]);
    expect(p.rss().anon).toBe(0);
    expect(b).toBe(a - PG);
    p.munmap(0x1000_0000, 16 * PG);
    expect(p.vmas()).toEqual([]);
    // an munmap that found no VMA returned before doing anything: not counted
    expect(sim.stats().counters.munmap).toBe(1);
  });

  it('munmap of a region spanning several PMDs frees its page tables', () => {
    const { sim, p } = setup();
    const a = p.mmap(3 * PMD_SIZE, RW, ANON);
    for (let i = 0; i < 3; i++) p.read(a + i * PMD_SIZE, 1);
    expect(sim.kernel.pt.live).toBe(1 + 2 + 3);
    p.munmap(a, 3 * PMD_SIZE);
    expect(sim.kernel.pt.live).toBe(1);
  });

  it('exit gives every page back', () => {
    const { sim, p } = setup();
    const free = sim.stats().freePages;
    const a = p.mmap(8 * PG, RW, ANON);
    p.write(a, fill(8 * PG, 1));
    const f = sim.createFile(PG);
    const b = p.mmap(PG, RW, MAP_SHARED, f);
    p.write(b, bytes(1));
    expect(sim.stats().freePages).toBe(free - 9);
    p.exit();
    // the file keeps its page-cache page
    expect(sim.stats().freePages).toBe(free - 1);
    expect(sim.page(f.mapping.findPage(0))).toMatchObject({ refcount: 1, mapcount: 0 });
    expect(sim.stats().counters.exit_mmap).toBe(1);
    expect(thrown(HmmError, () => p.mmap(PG, RW, ANON)).code).toBe('ESRCH');
  });

  it('the VMA flags record the protection and sharing', () => {
    const { p } = setup();
    p.mmap(PG, RW, SHARED_ANON);
    expect((p.vmas()[0]?.flags ?? 0) & (VM_READ | VM_WRITE)).toBe(VM_READ | VM_WRITE);
    expect(p.vmas()[0]?.perms).toBe('rw-s');
  });
});

describe('mm/mmap: splitting keeps file offsets and anon_vmas straight', () => {
  it('a split file VMA keeps each page at its file offset (vm_pgoff of the upper part)', () => {
    const sim = newSim();
    const f = sim.createFile(4 * PG);
    for (let i = 0; i < 4; i++) f.pwrite(bytes(10 + i), i * PG);
    const p = sim.createProcess();
    const a = p.mmap(4 * PG, RW, MAP_PRIVATE, f);
    p.munmap(a, PG);
    p.mprotect(a + 2 * PG, PG, RO);
    expect(p.vmas()).toHaveLength(3);
    expect([1, 2, 3].map((i) => p.read(a + i * PG, 1)[0])).toEqual([11, 12, 13]);
    expect(p.pte(a + 3 * PG).pfn).toBe(f.mapping.findPage(3));
    p.mprotect(a + 2 * PG, PG, RW);
    expect(p.vmas()).toHaveLength(1);
    p.write(a + 3 * PG, bytes(99));
    expect([...f.pread(1, 3 * PG)]).toEqual([13]);
  });

  it('neighbouring VMAs with different anon_vmas never merge', () => {
    const { p } = setup();
    const x = 0x5000_0000;
    mmapAt(p, x, PG, RW, ANON);
    p.write(x, bytes(1));
    mmapAt(p, x + PG, PG, RW | PROT_EXEC, ANON);
    p.write(x + PG, bytes(2));
    expect(p.vmas()).toHaveLength(2);
    p.mprotect(x + PG, PG, RW);
    expect(spans(p.vmas())).toEqual([`${h(x)}-${h(x + PG)} rw-p`, `${h(x + PG)}-${h(x + 2 * PG)} rw-p`]);
    const child = p.fork();
    child.write(x, bytes(3));
    child.write(x + PG, bytes(4));
    expect([p.read(x, 1)[0], p.read(x + PG, 1)[0]]).toEqual([1, 2]);
    expect([child.read(x, 1)[0], child.read(x + PG, 1)[0]]).toEqual([3, 4]);
  });

  it('a PTE table shared with a neighbouring VMA is freed only with the last VMA in its span', () => {
    const { sim, p } = setup();
    const x = 0x5000_0000;
    mmapAt(p, x, PG, RW, ANON);
    mmapAt(p, x + 2 * PG, PG, RO, ANON);
    p.write(x, bytes(1));
    expect(sim.kernel.pt.live).toBe(4);
    p.munmap(x, PG);
    expect(sim.kernel.pt.live).toBe(4);
    // the neighbour never touched its pages, but its VMA covers part of the table's span
    p.munmap(x + 2 * PG, PG);
    expect(sim.kernel.pt.live).toBe(1);
  });

  it('munmap rounds the length up, and rejects a range past the top of user space with EINVAL', () => {
    const { p } = setup();
    const a = p.mmap(2 * PG, RW, ANON);
    p.munmap(a, 1);
    expect(spans(p.vmas())).toEqual([`${h(a + PG)}-${h(a + 2 * PG)} rw-p`]);
    expect(thrown(HmmError, () => p.munmap(a, TASK_SIZE)).code).toBe('EINVAL');
    expect(p.vmas()).toHaveLength(1);
  });
});
