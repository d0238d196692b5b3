import { describe, expect, it } from 'vitest';
import { TASK_SIZE } from '../../src/core/addr.js';
import { ArgumentError, HmmError, SegvError } from '../../src/core/errno.js';
import { MAP_SHARED, PROT_EXEC, PROT_NONE, PROT_READ } from '../../src/mm/mmap.js';
import { ANON, bytes, fill, newSim, PG, RO, RW, SHARED_ANON, setup, thrown } from './helpers.js';

const h = (x: number) => x.toString(16);
function spans(vmas: { start: number; end: number; perms: string }[]): string[] {
  return vmas.map((v) => `${h(v.start)}-${h(v.end)} ${v.perms}`);
}

describe('mm/mprotect: VMA split and merge (mprotect_fixup)', () => {
  it('mprotect of the middle splits a VMA in three; mprotect back merges them into one', () => {
    const { sim, p } = setup();
    const a = p.mmap(4 * PG, RW, ANON);
    p.write(a, fill(4 * PG, 1));
    p.mprotect(a + PG, 2 * PG, PROT_READ);
    expect(spans(p.vmas())).toEqual([
      `${h(a)}-${h(a + PG)} rw-p`,
      `${h(a + PG)}-${h(a + 3 * PG)} r--p`,
      `${h(a + 3 * PG)}-${h(a + 4 * PG)} rw-p`,
    ]);
    p.mprotect(a + PG, 2 * PG, RW);
    expect(spans(p.vmas())).toEqual([`${h(a)}-${h(a + 4 * PG)} rw-p`]);
    expect(sim.stats().counters.mprotect).toBe(2);
  });

  it('mprotect of the head or the tail splits in two; covering both pieces merges again', () => {
    const { p } = setup();
    const a = p.mmap(4 * PG, RW, ANON);
    p.mprotect(a, PG, PROT_READ);
    expect(spans(p.vmas())).toEqual([`${h(a)}-${h(a + PG)} r--p`, `${h(a + PG)}-${h(a + 4 * PG)} rw-p`]);
    p.mprotect(a + 3 * PG, PG, PROT_READ);
    expect(spans(p.vmas())).toEqual([
      `${h(a)}-${h(a + PG)} r--p`,
      `${h(a + PG)}-${h(a + 3 * PG)} rw-p`,
      `${h(a + 3 * PG)}-${h(a + 4 * PG)} r--p`,
    ]);
    p.mprotect(a, 4 * PG, PROT_READ);
    expect(spans(p.vmas())).toEqual([`${h(a)}-${h(a + 4 * PG)} r--p`]);
  });

  it('a length that is not a page multiple is rounded up; length 0 is a no-op', () => {
    const { p } = setup();
    const a = p.mmap(2 * PG, RW, ANON);
    p.mprotect(a, 1, PROT_READ);
    expect(spans(p.vmas())).toEqual([`${h(a)}-${h(a + PG)} r--p`, `${h(a + PG)}-${h(a + 2 * PG)} rw-p`]);
    p.mprotect(a, 0, PROT_NONE);
    expect(p.vmas()[0]?.perms).toBe('r--p');
  });
});

describe('mm/mprotect: change_protection on the PTEs', () => {
  it('PROT_READ write-protects a writable PTE and keeps the page and its dirty bit; a write is then SIGSEGV', () => {
    const { p } = setup();
    const a = p.mmap(PG, RW, ANON);
    p.write(a, bytes(1));
    const pfn = p.pte(a).pfn;
    p.mprotect(a, PG, PROT_READ);
    expect(p.pte(a)).toMatchObject({ kind: 'present', pfn, write: false, dirty: true });
    expect(thrown(SegvError, () => p.write(a, bytes(2)))).toMatchObject({ addr: a, write: true });
    expect([...p.read(a, 1)]).toEqual([1]);
  });

  it('PROT_NONE turns PTEs protnone, keeping the page (rss, refcount, mapcount); restoring access brings them back', () => {
    const { sim, p } = setup();
    const a = p.mmap(3 * PG, RW, ANON);
    p.write(a, fill(2 * PG, 7));
    p.read(a + 2 * PG, 1); // zero page
    const pfns = [p.pte(a).pfn, p.pte(a + PG).pfn];
    const free = sim.stats().freePages;

    p.mprotect(a, 3 * PG, PROT_NONE);
    expect(p.pte(a)).toMatchObject({
      kind: 'protnone',
      pfn: pfns[0],
      write: false,
      dirty: true,
      special: false,
    });
    expect(p.pte(a + PG)).toMatchObject({ kind: 'protnone', pfn: pfns[1] });
    expect(p.pte(a + 2 * PG)).toMatchObject({ kind: 'protnone', pfn: 0, special: true });
    expect(p.pte(a).text).toBe(`present pfn=${pfns[0]} protnone,dirty`);
    expect(p.rss().anon).toBe(2);
    expect(sim.page(pfns[0] as number)).toMatchObject({ refcount: 1, mapcount: 1 });
    expect(sim.stats().freePages).toBe(free);
    expect(p.vmas()[0]?.perms).toBe('---p');
    expect(thrown(SegvError, () => p.read(a, 1))).toMatchObject({ addr: a, write: false, signal: 'SIGSEGV' });

    p.mprotect(a, 3 * PG, PROT_READ);
    expect(p.pte(a)).toMatchObject({ kind: 'present', pfn: pfns[0], write: false, dirty: true });
    expect(p.pte(a + 2 * PG)).toMatchObject({ kind: 'present', pfn: 0, special: true, write: false });
    expect([...p.read(a + PG - 1, 2)]).toEqual([7, 7]);

    p.mprotect(a, 3 * PG, RW);
    expect(p.pte(a)).toMatchObject({ kind: 'present', pfn: pfns[0], write: false });
    p.write(a, bytes(8));
    expect(p.pte(a)).toMatchObject({ kind: 'present', pfn: pfns[0], write: true });
    p.write(a + 2 * PG, bytes(8));
    expect(p.pte(a + 2 * PG).pfn).not.toBe(0);
    expect(sim.stats().freePages).toBe(free - 1);
  });

  it('unmapping a PROT_NONE range frees its pages', () => {
    const { sim, p } = setup();
    const free = sim.stats().freePages;
    const a = p.mmap(2 * PG, RW, ANON);
    p.write(a, fill(2 * PG, 1));
    p.mprotect(a, 2 * PG, PROT_NONE);
    p.munmap(a, 2 * PG);
    expect(sim.stats().freePages).toBe(free);
    expect(p.rss().anon).toBe(0);
  });

  it('shared mappings get write permission back at once (PAGE_SHARED), no fault needed', () => {
    const sim = newSim();
    const p = sim.createProcess();
    const s = p.mmap(PG, RW, SHARED_ANON);
    p.write(s, bytes(1));
    p.mprotect(s, PG, PROT_READ);
    expect(p.pte(s)).toMatchObject({ kind: 'present', write: false });
    p.mprotect(s, PG, RW);
    expect(p.pte(s)).toMatchObject({ kind: 'present', write: true });
    const f = sim.createFile(PG);
    const m = p.mmap(PG, RW, MAP_SHARED, f);
    p.write(m, bytes(2));
    p.mprotect(m, PG, PROT_NONE);
    expect(p.pte(m).kind).toBe('protnone');
    p.mprotect(m, PG, RW);
    expect(p.pte(m)).toMatchObject({ kind: 'present', write: true, pfn: f.mapping.findPage(0) });
  });
});

describe('mm/mprotect: errors', () => {
  it('an unaligned address is ArgumentError addr; unknown prot bits are ArgumentError prot', () => {
    const { p } = setup();
    const a = p.mmap(PG, RW, ANON);
    expect(thrown(ArgumentError, () => p.mprotect(a + 1, PG, RO)).argument).toBe('addr');
    expect(thrown(ArgumentError, () => p.mprotect(a, PG, 0x10)).argument).toBe('prot');
    expect(p.vmas()[0]?.perms).toBe('rw-p');
  });

  it('a range that starts in a hole is ENOMEM and changes nothing', () => {
    const { p } = setup();
    const a = p.mmap(2 * PG, RW, ANON);
    expect(thrown(HmmError, () => p.mprotect(a - PG, 2 * PG, RO)).code).toBe('ENOMEM');
    expect(spans(p.vmas())).toEqual([`${h(a)}-${h(a + 2 * PG)} rw-p`]);
    expect(thrown(HmmError, () => p.mprotect(TASK_SIZE - PG, 2 * PG, RO)).code).toBe('ENOMEM');
  });

  it('a range running past the top of user space changes the VMAs up to the hole, then ENOMEM', () => {
    const { p } = setup();
    const a = p.mmap(PG, RW, ANON);
    expect(thrown(HmmError, () => p.mprotect(a, 2 ** 47, RO)).code).toBe('ENOMEM');
    expect(p.vmas()[0]?.perms).toBe('r--p');
  });

  it('a hole after the first VMA: the VMAs before the hole are changed, then ENOMEM (do_mprotect_pkey)', () => {
    const { p } = setup();
    const a = p.mmap(3 * PG, RW, ANON);
    p.write(a, fill(3 * PG, 1));
    p.munmap(a + PG, PG);
    expect(thrown(HmmError, () => p.mprotect(a, 3 * PG, RO)).code).toBe('ENOMEM');
    // v5.3 applies mprotect_fixup VMA by VMA and stops at the first gap
    expect(spans(p.vmas())).toEqual([`${h(a)}-${h(a + PG)} r--p`, `${h(a + 2 * PG)}-${h(a + 3 * PG)} rw-p`]);
    expect(p.pte(a).write).toBe(false);
    expect(p.pte(a + 2 * PG).write).toBe(true);
  });

  it('raising protection past the VM_MAY* bits is EACCES: pfnmap and mixedmap mappings have no VM_MAYEXEC', () => {
    for (const kind of ['pfnmap', 'mixedmap'] as const) {
      const { p } = setup();
      const a = p.mmapSpecial(2 * PG, RO, kind);
      expect(thrown(HmmError, () => p.mprotect(a, 2 * PG, PROT_READ | PROT_EXEC)).code).toBe('EACCES');
      expect(thrown(HmmError, () => p.mprotect(a + PG, PG, PROT_EXEC)).code).toBe('EACCES');
      expect(spans(p.vmas())).toEqual([`${h(a)}-${h(a + 2 * PG)} r--p`]);
      // what VM_MAYREAD allows is fine
      p.mprotect(a, PG, PROT_NONE);
      expect(p.vmas().map((v) => v.perms)).toEqual(['---p', 'r--p']);
    }
  });

  it('EACCES stops the VMA loop: the VMAs before the refusing one are changed (do_mprotect_pkey)', () => {
    const { p } = setup();
    const special = p.mmapSpecial(PG, RO, 'mixedmap');
    const a = p.mmap(PG, RO, ANON);
    expect(a + PG).toBe(special);
    expect(thrown(HmmError, () => p.mprotect(a, 2 * PG, PROT_READ | PROT_EXEC)).code).toBe('EACCES');
    expect(spans(p.vmas())).toEqual([`${h(a)}-${h(a + PG)} r-xp`, `${h(special)}-${h(special + PG)} r--p`]);
  });
});
