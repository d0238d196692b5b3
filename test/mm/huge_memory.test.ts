/** Transparent huge pages: PMD faults, the huge zero page, zap, splits, fork/COW, walks, collapse. */

import { describe, expect, it } from 'vitest';
import { checkAccounting } from '../../src/check/accounting.js';
import { ArgumentError } from '../../src/core/errno.js';
import { FOLL_WRITE, getUserPages } from '../../src/mm/gup.js';
import { splitHugePage } from '../../src/mm/huge_memory.js';
import { Kernel } from '../../src/mm/kernel.js';
import {
  MADV_COLLAPSE,
  MADV_DONTNEED,
  MADV_HUGEPAGE,
  MADV_NOHUGEPAGE,
  MADV_POPULATE_WRITE,
} from '../../src/mm/madvise.js';
import { MAP_FIXED, PROT_READ } from '../../src/mm/mmap.js';
import { HPAGE_PMD_NR } from '../../src/mm/page.js';
import { PhysMem } from '../../src/mm/page_alloc.js';
import type { Process } from '../../src/sim/process.js';
import { Simulator, type SimulatorOptions } from '../../src/sim/simulator.js';
import { ANON, fill, locked, mmapAt, PG, RW, thrown } from './helpers.js';

const HPAGE = 2 * 1024 * 1024;
/** A 2 MiB-aligned address for MAP_FIXED mappings. */
const BASE = 0x4000_0000;

function thpSim(opts: SimulatorOptions = {}): { sim: Simulator; p: Process } {
  const sim = new Simulator({ ramPages: 4096, devices: [], ...opts });
  return { sim, p: sim.createProcess() };
}

/** Two aligned huge pages' worth of anonymous memory with MADV_HUGEPAGE. */
function hugeRegion(p: Process, npmds = 2): number {
  const a = mmapAt(p, BASE, npmds * HPAGE, RW, ANON | MAP_FIXED);
  p.madvise(a, npmds * HPAGE, MADV_HUGEPAGE);
  return a;
}

function ok(sim: Simulator): void {
  expect(checkAccounting(sim.kernel)).toEqual([]);
}

describe('the thp setting', () => {
  it('defaults to madvise and rejects unknown values naming thp', () => {
    expect(new Simulator({ ramPages: 16, devices: [] }).kernel.thp.mode).toBe('madvise');
    const e = thrown(ArgumentError, () => new Simulator({ thp: 'sometimes' as never, devices: [] }));
    expect(e.argument).toBe('thp');
  });

  it('madvise: no THP without MADV_HUGEPAGE; never: none even with it; always: THP without advice', () => {
    for (const [thp, advise, order] of [
      ['madvise', false, 0],
      ['madvise', true, 9],
      ['never', true, 0],
      ['always', false, 9],
    ] as const) {
      const { sim, p } = thpSim({ thp });
      const a = mmapAt(p, BASE, HPAGE, RW, ANON | MAP_FIXED);
      if (advise) p.madvise(a, HPAGE, MADV_HUGEPAGE);
      p.write(a + 5 * PG, fill(8, 1));
      expect(p.pte(a + 5 * PG).order, `${thp} advise=${advise}`).toBe(order);
      expect(p.rss().anon).toBe(order === 9 ? 512 : 1);
      ok(sim);
    }
  });

  it('MADV_HUGEPAGE on part of a VMA splits it; NOHUGEPAGE stops new THPs; advice back merges', () => {
    const { p } = thpSim();
    const a = mmapAt(p, BASE, 3 * HPAGE, RW, ANON | MAP_FIXED);
    p.madvise(a + HPAGE, HPAGE, MADV_HUGEPAGE);
    expect(p.vmas().map((v) => [v.start - a, v.end - a])).toEqual([
      [0, HPAGE],
      [HPAGE, 2 * HPAGE],
      [2 * HPAGE, 3 * HPAGE],
    ]);
    p.madvise(a, 3 * HPAGE, MADV_NOHUGEPAGE);
    expect(p.vmas()).toHaveLength(1);
    p.madvise(a + HPAGE, HPAGE, MADV_HUGEPAGE);
    p.write(a, fill(1, 1));
    p.write(a + HPAGE, fill(1, 1));
    expect([p.pte(a).order, p.pte(a + HPAGE).order]).toEqual([0, 9]);
    // The first two VMAs now have different anon_vmas: they cannot merge (is_mergeable_anon_vma).
    p.madvise(a, 3 * HPAGE, MADV_NOHUGEPAGE);
    expect(p.vmas()).toHaveLength(2);
    p.write(a + 2 * HPAGE, fill(1, 1));
    expect(p.pte(a + 2 * HPAGE).order).toBe(0);
    // The existing huge PMD stays.
    expect(p.pte(a + HPAGE).order).toBe(9);
  });
});

describe('anonymous THP fault', () => {
  it('a write maps an aligned compound page with a PMD: 512 rss, 512 memcg, entire mapcount 1', () => {
    const { sim, p } = thpSim();
    const a = hugeRegion(p);
    const free0 = sim.kernel.mem.freePages;
    p.write(a + 3 * PG + 7, Uint8Array.of(9, 8, 7));
    const e = p.pte(a + 3 * PG);
    expect(e.order).toBe(9);
    expect(e.write).toBe(true);
    const head = p.pte(a).pfn;
    expect(head % HPAGE_PMD_NR).toBe(0);
    expect(e.pfn).toBe(head + 3);
    expect(p.pte(a + HPAGE - PG).pfn).toBe(head + 511);
    expect(sim.kernel.mem.freePages).toBe(free0 - 512);
    expect(sim.page(head)).toMatchObject({ refcount: 1, mapcount: 0, entireMapcount: 1, compoundHead: head });
    expect(sim.page(head).flags).toContain('head');
    expect(sim.page(head + 3)).toMatchObject({
      refcount: 0,
      mapcount: 0,
      entireMapcount: 1,
      compoundHead: head,
    });
    expect(sim.page(head + 3).flags).toContain('tail');
    expect(p.rss().anon).toBe(512);
    expect(sim.kernel.mem.memcgs.root.usagePages).toBe(512);
    expect(p.read(a + 3 * PG + 7, 3)).toEqual(Uint8Array.of(9, 8, 7));
    expect(p.read(a + 100 * PG, 2)).toEqual(Uint8Array.of(0, 0));
    // The second 2 MiB is untouched.
    expect(p.pte(a + HPAGE).kind).toBe('none');
    ok(sim);
  });

  it('a read maps the huge zero page read-only; a write then allocates a THP', () => {
    const { sim, p } = thpSim();
    const a = hugeRegion(p);
    expect(p.read(a + 10 * PG, 4)).toEqual(new Uint8Array(4));
    const z = p.pte(a + 10 * PG);
    expect(z).toMatchObject({ kind: 'present', order: 9, write: false });
    const zeroHead = sim.kernel.thp.hugeZeroPfn;
    expect(z.pfn).toBe(zeroHead + 10);
    expect(p.rss().anon).toBe(0);
    expect(sim.kernel.mem.memcgs.root.usagePages).toBe(0);
    ok(sim);
    p.write(a + 10 * PG, fill(1, 5));
    // do_huge_zero_wp_pmd (v6.13+): a new THP replaces the huge zero page.
    expect(p.pte(a + 10 * PG)).toMatchObject({ order: 9, write: true });
    expect(p.pte(a + 10 * PG).pfn).not.toBe(zeroHead + 10);
    expect(p.rss().anon).toBe(512);
    expect(p.read(a + 10 * PG, 2)).toEqual(Uint8Array.of(5, 0));
    ok(sim);
  });

  it('a write to the huge zero page with no huge page free splits it and COWs one page', () => {
    const { sim, p } = thpSim({ ramPages: 1100 });
    const a = hugeRegion(p, 1);
    p.read(a, 1);
    expect(p.pte(a).order).toBe(9);
    expect(sim.kernel.mem.freeHugeBlocks).toBe(0);
    p.write(a + 10 * PG, fill(1, 5));
    expect(p.pte(a + 10 * PG)).toMatchObject({ order: 0, write: true });
    expect(p.pte(a + 11 * PG)).toMatchObject({ order: 0, write: false, special: true, pfn: 0 });
    expect(p.rss().anon).toBe(1);
    expect(p.read(a + 10 * PG, 2)).toEqual(Uint8Array.of(5, 0));
    ok(sim);
  });

  it('falls back to small pages when no aligned block is free', () => {
    const { sim, p } = thpSim({ ramPages: 1000 });
    const a = hugeRegion(p, 1);
    expect(sim.kernel.mem.freeHugeBlocks).toBe(0);
    p.write(a, fill(1, 1));
    expect(p.pte(a).order).toBe(0);
    expect(p.rss().anon).toBe(1);
    expect(sim.kernel.counters.get('thp_fault_fallback')).toBe(1);
    ok(sim);
  });

  it('exit frees the compound page and the huge zero page: nothing leaks', () => {
    const { sim, p } = thpSim();
    const a = hugeRegion(p);
    p.write(a, fill(1, 1));
    p.read(a + HPAGE, 1);
    const free0 = sim.stats().ramPages;
    p.exit();
    expect(sim.kernel.mem.freePages).toBe(free0);
    expect(sim.kernel.thp.hugeZeroPfn).toBe(-1);
    expect(sim.kernel.mem.memcgs.root.usagePages).toBe(0);
    ok(sim);
  });
});

describe('zap and split_huge_pmd', () => {
  it('MADV_DONTNEED of a whole PMD zaps it whole', () => {
    const { sim, p } = thpSim();
    const a = hugeRegion(p);
    p.write(a, fill(PG, 3));
    const free0 = sim.kernel.mem.freePages;
    p.madvise(a, HPAGE, MADV_DONTNEED);
    expect(p.pte(a).kind).toBe('none');
    expect(sim.kernel.mem.freePages).toBe(free0 + 512);
    expect(p.rss().anon).toBe(0);
    expect(p.read(a, 1)).toEqual(Uint8Array.of(0));
    ok(sim);
  });

  it('MADV_DONTNEED of part of a PMD splits it: PTEs onto the same folio, counts per subpage', () => {
    const { sim, p } = thpSim();
    const a = hugeRegion(p);
    p.write(a, fill(PG, 3));
    p.write(a + 8 * PG, fill(PG, 4));
    const head = p.pte(a).pfn;
    p.madvise(a + 4 * PG, 4 * PG, MADV_DONTNEED);
    expect(p.pte(a)).toMatchObject({ order: 0, pfn: head, write: true });
    expect(p.pte(a + 8 * PG)).toMatchObject({ order: 0, pfn: head + 8 });
    expect(p.pte(a + 4 * PG).kind).toBe('none');
    // 508 PTE mappings left: folio refcount 508, per-page mapcounts, no entire mapping.
    expect(sim.page(head)).toMatchObject({ refcount: 508, mapcount: 1, entireMapcount: 0 });
    expect(sim.page(head + 4)).toMatchObject({ refcount: 0, mapcount: 0 });
    expect(p.rss().anon).toBe(508);
    // The folio keeps its 512 frames and its charge (no deferred split is modelled).
    expect(sim.kernel.mem.memcgs.root.usagePages).toBe(512);
    expect(p.read(a + 8 * PG, 1)).toEqual(Uint8Array.of(4));
    expect(p.read(a + 4 * PG, 1)).toEqual(Uint8Array.of(0));
    ok(sim);
    p.exit();
    expect(sim.kernel.mem.memcgs.root.usagePages).toBe(0);
    ok(sim);
  });

  it('partial munmap and mprotect split the PMD at the VMA boundary', () => {
    const { sim, p } = thpSim();
    const a = hugeRegion(p);
    p.write(a, fill(1, 1));
    p.write(a + HPAGE, fill(1, 2));
    const head = p.pte(a).pfn;
    p.munmap(a + HPAGE - 2 * PG, 2 * PG);
    expect(p.pte(a).order).toBe(0);
    expect(sim.page(head)).toMatchObject({ refcount: 510, entireMapcount: 0 });
    expect(p.rss().anon).toBe(510 + 512);
    p.mprotect(a + HPAGE, PG, PROT_READ);
    expect(p.pte(a + HPAGE)).toMatchObject({ order: 0, write: false });
    expect(p.pte(a + HPAGE + PG)).toMatchObject({ order: 0, write: true });
    ok(sim);
  });

  it('mprotect of a whole PMD keeps it huge and changes its protection', () => {
    const { sim, p } = thpSim();
    const a = hugeRegion(p, 1);
    p.write(a, fill(1, 1));
    p.mprotect(a, HPAGE, PROT_READ);
    expect(p.pte(a)).toMatchObject({ order: 9, write: false });
    expect(() => p.write(a, fill(1, 1))).toThrow();
    p.mprotect(a, HPAGE, RW);
    p.write(a, fill(1, 7));
    expect(p.pte(a)).toMatchObject({ order: 9, write: true });
    ok(sim);
  });
});

describe('fork and COW of huge PMDs', () => {
  it('copy_huge_pmd shares the folio write-protected; a write splits and copies one subpage', () => {
    const { sim, p } = thpSim();
    const a = hugeRegion(p, 1);
    p.write(a, fill(PG, 1));
    const head = p.pte(a).pfn;
    const c = p.fork();
    expect(p.pte(a)).toMatchObject({ order: 9, write: false });
    expect(c.pte(a)).toMatchObject({ order: 9, write: false, pfn: head });
    expect(sim.page(head)).toMatchObject({ refcount: 2, entireMapcount: 2 });
    expect(c.rss().anon).toBe(512);
    ok(sim);
    c.write(a + PG, fill(1, 9));
    expect(c.pte(a + PG).order).toBe(0);
    expect(c.pte(a + PG).pfn).not.toBe(head + 1);
    expect(c.pte(a + 2 * PG)).toMatchObject({ order: 0, pfn: head + 2, write: false });
    expect(p.pte(a)).toMatchObject({ order: 9 });
    // The child's split: 511 PTE mappings + the parent's PMD.
    expect(sim.page(head)).toMatchObject({ refcount: 512, entireMapcount: 1 });
    expect(p.read(a + PG, 1)).toEqual(Uint8Array.of(0));
    expect(c.read(a + PG, 1)).toEqual(Uint8Array.of(9));
    expect(c.read(a, 1)).toEqual(Uint8Array.of(1));
    expect(c.rss().anon).toBe(512);
    ok(sim);
    // The parent is the folio's only PMD mapper, but the child's PTEs hold it: it must copy too.
    p.write(a + 2 * PG, fill(1, 6));
    expect(p.pte(a + 2 * PG).pfn).not.toBe(head + 2);
    expect(c.read(a + 2 * PG, 1)).toEqual(Uint8Array.of(0));
    ok(sim);
    c.exit();
    ok(sim);
  });

  it('after the child exits the parent reuses the whole PMD (refcount 1)', () => {
    const { sim, p } = thpSim();
    const a = hugeRegion(p, 1);
    p.write(a, fill(1, 1));
    const head = p.pte(a).pfn;
    p.fork().exit();
    p.write(a, fill(1, 2));
    expect(p.pte(a)).toMatchObject({ order: 9, write: true, pfn: head });
    ok(sim);
  });

  it('the huge zero page is shared by fork', () => {
    const { sim, p } = thpSim();
    const a = hugeRegion(p, 1);
    p.read(a, 1);
    const c = p.fork();
    expect(c.pte(a)).toMatchObject({ order: 9, pfn: sim.kernel.thp.hugeZeroPfn });
    expect(sim.kernel.thp.hugeZeroUsers).toBe(2);
    p.exit();
    expect(sim.kernel.thp.hugeZeroPfn).toBeGreaterThan(0);
    c.exit();
    expect(sim.kernel.thp.hugeZeroPfn).toBe(-1);
    ok(sim);
  });
});

describe('walks see PMD mappings', () => {
  it('pagemap, walkPtes and mincore report every page of a huge PMD', () => {
    const { sim, p } = thpSim();
    const a = hugeRegion(p, 1);
    p.write(a, fill(1, 1));
    const head = p.pte(a).pfn;
    const pm = p.pagemap(a + 510 * PG, 2);
    expect([pm[0], pm[2]]).toEqual([head + 510, head + 511]);
    expect(((pm[1] as number) >>> 31) & 1).toBe(1);
    expect(((pm[1] as number) >>> 24) & 1).toBe(1); // exclusively mapped
    const w = p.walkPtes(a + 7 * PG, 1);
    expect(((w[0] as number) >>> 12) + ((w[1] as number) & 0xfffff) * 2 ** 20).toBe(head + 7);
    expect((w[0] as number) & 0x80).toBe(0x80); // PSE: the mapping is order 9
    expect([...p.mincore(a + HPAGE - 2 * PG, 2 * PG)]).toEqual([1, 1]);
    ok(sim);
  });

  it('GUP of a subpage takes a reference on the folio', () => {
    const { sim, p } = thpSim();
    const a = hugeRegion(p, 1);
    p.write(a, fill(1, 1));
    const head = p.pte(a).pfn;
    const pages: number[] = [];
    const mm = p.mm;
    const r = sim.run(
      'gup',
      locked(mm, 'read', () => getUserPages(mm, a + 5 * PG, 2, FOLL_WRITE, pages)),
    );
    expect(r).toBe(2);
    expect(pages).toEqual([head + 5, head + 6]);
    expect(sim.page(head).refcount).toBe(3);
    expect(
      checkAccounting(
        sim.kernel,
        new Map([
          [head + 5, 1],
          [head + 6, 1],
        ]),
      ),
    ).toEqual([]);
    for (const pfn of pages) sim.kernel.mem.putPage(pfn);
    expect(sim.page(head).refcount).toBe(1);
    ok(sim);
  });
});

describe('the order-9 allocator and split_huge_page', () => {
  it('allocCompound takes the highest wholly free aligned block; freeing it returns all 512 frames', () => {
    const { sim } = thpSim({ ramPages: 2048 });
    const mem = sim.kernel.mem;
    // Blocks 1, 2 and 3 (pfns 512..2047) are wholly free; block 0 holds the zero page; 2048 is alone.
    expect(mem.freeHugeBlocks).toBe(3);
    const head = mem.allocCompound();
    expect(head).toBe(1536);
    expect(mem.freePages).toBe(2048 - 512);
    expect(mem.freeHugeBlocks).toBe(2);
    // Order-0 allocations still come from the low end.
    const small = mem.allocPage();
    expect(small).toBe(1);
    mem.putPage(head + 17); // a tail's put goes to the head
    expect(mem.freePages).toBe(2048 - 1);
    expect(mem.freeHugeBlocks).toBe(3);
    mem.putPage(small);
    ok(sim);
  });

  it('a block freed whole is split for order-0 only once the order-0 stack is empty; nothing is lost', () => {
    const mem = new PhysMem({ ramPages: 1100 });
    const head = mem.allocCompound();
    expect(head).toBe(512);
    expect([mem.allocPage(), mem.allocPage()]).toEqual([1, 2]); // order-0 order is untouched
    const got = new Set([1, 2]);
    const drain = (): void => {
      for (let pfn = mem.allocPage(); pfn >= 0; pfn = mem.allocPage()) {
        expect(got.has(pfn), `pfn ${pfn} handed out twice`).toBe(false);
        got.add(pfn);
      }
    };
    drain(); // skips (and drops) the compound page's stale entries
    expect(got.size).toBe(1100 - 512);
    mem.putPage(head);
    expect(mem.freePages).toBe(512);
    drain(); // only the block freed whole is left: it is split onto the order-0 stack
    expect(got.size).toBe(1100);
    expect(mem.freePages).toBe(0);
    for (const pfn of got) mem.putPage(pfn);
    expect(mem.freePages).toBe(1100);
    expect(mem.allocCompound()).toBe(512);
  });

  it('order-0 frees of a split compound page compact the stack of its stale entries', () => {
    const kernel = new Kernel({ ramPages: 1100 });
    const mem = kernel.mem;
    const head = mem.allocCompound();
    expect(splitHugePage(kernel, head, 1)).toBe(true); // the caller's reference: 511 tails freed
    mem.putPage(head);
    expect(mem.freePages).toBe(1100);
    const got = new Set<number>();
    for (let pfn = mem.allocPage(); pfn >= 0; pfn = mem.allocPage()) got.add(pfn);
    expect(got.size).toBe(1100);
    expect(Math.min(...got)).toBe(1);
    expect(Math.max(...got)).toBe(1100);
  });

  it('split_huge_page: 512 small pages, mappings as references, unmapped subpages freed, charge per page', () => {
    const { sim, p } = thpSim();
    const a = hugeRegion(p, 1);
    p.write(a, fill(1, 1));
    const head = p.pte(a).pfn;
    p.madvise(a + 8 * PG, 8 * PG, MADV_DONTNEED); // PTE-mapped now, pages 8..15 unmapped
    const free0 = sim.kernel.mem.freePages;
    expect(splitHugePage(sim.kernel, head, 0)).toBe(true);
    expect(sim.page(head)).toMatchObject({ refcount: 1, mapcount: 1, compoundHead: head, entireMapcount: 0 });
    expect(sim.page(head + 9).flags).toEqual(['buddy']);
    expect(sim.page(head + 20)).toMatchObject({ refcount: 1, mapcount: 1, compoundHead: head + 20 });
    expect(sim.page(head + 20).flags).not.toContain('tail');
    expect(sim.kernel.mem.freePages).toBe(free0 + 8);
    expect(sim.kernel.mem.memcgs.root.usagePages).toBe(504);
    expect(p.read(a, 1)).toEqual(Uint8Array.of(1));
    ok(sim);
  });

  it('split_huge_page splits PMD mappings first and refuses a pinned folio', () => {
    const { sim, p } = thpSim();
    const a = hugeRegion(p, 1);
    p.write(a, fill(1, 1));
    const head = p.pte(a).pfn;
    const c = p.fork();
    sim.kernel.mem.getPage(head + 3); // a GUP pin on a subpage
    expect(splitHugePage(sim.kernel, head, 0)).toBe(false);
    expect(p.pte(a).order).toBe(9);
    sim.kernel.mem.putPage(head + 3);
    expect(splitHugePage(sim.kernel, head, 0)).toBe(true);
    expect([p.pte(a).order, c.pte(a).order]).toEqual([0, 0]);
    expect(sim.page(head + 3)).toMatchObject({ refcount: 2, mapcount: 2 });
    expect(p.rss().anon).toBe(512);
    ok(sim);
    c.write(a, fill(1, 2));
    expect(p.read(a, 1)).toEqual(Uint8Array.of(1));
    ok(sim);
  });
});

describe('MADV_COLLAPSE', () => {
  it('collapses 512 PTE-mapped pages into a new THP with the same bytes', () => {
    const { sim, p } = thpSim();
    const a = mmapAt(p, BASE, HPAGE, RW, ANON | MAP_FIXED);
    p.write(a, fill(PG, 1));
    p.write(a + 300 * PG, fill(2, 2));
    p.read(a + 301 * PG, 1);
    expect(p.rss().anon).toBe(2);
    p.madvise(a, HPAGE, MADV_COLLAPSE);
    expect(p.pte(a)).toMatchObject({ order: 9, write: true });
    expect(p.rss().anon).toBe(512);
    expect(sim.kernel.mem.memcgs.root.usagePages).toBe(512);
    expect(p.read(a, 1)).toEqual(Uint8Array.of(1));
    expect(p.read(a + 300 * PG, 3)).toEqual(Uint8Array.of(2, 2, 0));
    ok(sim);
  });

  it('re-collapses a split THP; refuses NOHUGEPAGE (EINVAL) and read-only ranges', () => {
    const { sim, p } = thpSim();
    const a = hugeRegion(p, 1);
    p.write(a, fill(1, 1));
    p.madvise(a + PG, PG, MADV_DONTNEED);
    expect(p.pte(a).order).toBe(0);
    p.madvise(a, HPAGE, MADV_COLLAPSE);
    expect(p.pte(a).order).toBe(9);
    expect(p.rss().anon).toBe(512);
    expect(sim.kernel.mem.memcgs.root.usagePages).toBe(512);
    ok(sim);
    const b = mmapAt(p, BASE + 4 * HPAGE, HPAGE, RW, ANON | MAP_FIXED);
    p.madvise(b, HPAGE, MADV_NOHUGEPAGE);
    p.write(b, fill(1, 1));
    expect(() => p.madvise(b, HPAGE, MADV_COLLAPSE)).toThrow(/EINVAL/);
    ok(sim);
  });
});

describe('MADV_POPULATE_WRITE in a MADV_HUGEPAGE region', () => {
  it('faults in huge PMDs', () => {
    const { sim, p } = thpSim();
    const a = hugeRegion(p, 2);
    p.madvise(a, 2 * HPAGE, MADV_POPULATE_WRITE);
    expect([p.pte(a).order, p.pte(a + HPAGE).order]).toEqual([9, 9]);
    expect(p.rss().anon).toBe(1024);
    ok(sim);
  });
});
