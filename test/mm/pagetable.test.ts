import { describe, expect, it } from 'vitest';
import { MMAP_BASE, PAGE_SIZE, PMD_SIZE, PUD_SIZE, TASK_SIZE } from '../../src/core/addr.js';
import { KernelBug } from '../../src/core/assert.js';
import { MAP_FIXED } from '../../src/mm/mmap.js';
import {
  LEVEL_PGD,
  LEVEL_PMD,
  LEVEL_PTE,
  LEVEL_PUD,
  PageTablePool,
  pteSlotIn,
} from '../../src/mm/pagetable.js';
import { _PAGE_PRESENT, pteHiOf, pteLoOf } from '../../src/mm/pte.js';
import { ANON, PG, RW, setup, thrown } from './helpers.js';

function pool(): { pt: PageTablePool; pgd: number } {
  const pt = new PageTablePool(4);
  return { pt, pgd: pt.allocTable(LEVEL_PGD) };
}

describe('mm/pagetable: allocation (__pud_alloc, __pmd_alloc, __pte_alloc)', () => {
  it('table 0 is never handed out and a new table is empty', () => {
    const { pt, pgd } = pool();
    expect(pgd).toBe(1);
    expect(pt.live).toBe(1);
    expect(pt.used[pgd]).toBe(0);
    expect(pt.level[pgd]).toBe(LEVEL_PGD);
  });

  it('pteSlotAlloc allocates the pud, pmd and pte tables once', () => {
    const { pt, pgd } = pool();
    const a = MMAP_BASE - 5 * PAGE_SIZE;
    expect(pt.pteSlot(pgd, a)).toBe(-1);
    expect(pt.pteTable(pgd, a)).toBe(0);
    const slot = pt.pteSlotAlloc(pgd, a);
    expect(pt.live).toBe(4);
    const t = pt.pteTable(pgd, a);
    expect(slot).toBe(t * 512 + 507);
    expect(pt.level[t]).toBe(LEVEL_PTE);
    // each upper table holds exactly one entry; the new PTE table none yet
    expect(pt.used[pgd]).toBe(1);
    expect(pt.used[t]).toBe(0);
    const levels = [...pt.level.slice(0, 5)];
    expect(levels).toEqual([0, LEVEL_PGD, LEVEL_PUD, LEVEL_PMD, LEVEL_PTE]);
    // same PTE table for every page of the PMD span, no new tables
    expect(pt.pteSlotAlloc(pgd, a + PAGE_SIZE)).toBe(slot + 1);
    expect(pt.pteSlotAlloc(pgd, MMAP_BASE - PMD_SIZE)).toBe(t * 512);
    expect(pt.live).toBe(4);
    // a new PMD span in the same PUD: one new PTE table
    pt.pteSlotAlloc(pgd, MMAP_BASE - PMD_SIZE - PAGE_SIZE);
    expect(pt.live).toBe(5);
    // a new PUD span: a new PMD table and PTE table
    pt.pteSlotAlloc(pgd, MMAP_BASE - PUD_SIZE - PAGE_SIZE);
    expect(pt.live).toBe(7);
    // a new PGD span: all three
    pt.pteSlotAlloc(pgd, 0x10000);
    expect(pt.live).toBe(10);
    expect(pt.used[pgd]).toBe(2);
  });

  it('set keeps used exact: none -> non-none counts, rewrites do not, clear uncounts', () => {
    const { pt, pgd } = pool();
    const slot = pt.pteSlotAlloc(pgd, 0x10000);
    const t = slot >>> 9;
    pt.set(slot, pteLoOf(5, _PAGE_PRESENT), pteHiOf(5));
    expect(pt.used[t]).toBe(1);
    pt.set(slot, pteLoOf(6, _PAGE_PRESENT), pteHiOf(6));
    expect(pt.used[t]).toBe(1);
    pt.set(slot + 1, 0, 1); // a non-none entry with only hi bits
    expect(pt.used[t]).toBe(2);
    pt.clear(slot);
    pt.clear(slot);
    expect(pt.used[t]).toBe(1);
    pt.set(slot + 1, 0, 0);
    expect(pt.used[t]).toBe(0);
  });

  it('grows past its initial capacity and keeps every entry', () => {
    const { pt, pgd } = pool();
    const slots: number[] = [];
    for (let i = 0; i < 40; i++) {
      const s = pt.pteSlotAlloc(pgd, 0x10000 + i * PMD_SIZE);
      pt.set(s, pteLoOf(100 + i, _PAGE_PRESENT), 0);
      slots.push(s);
    }
    expect(pt.live).toBe(1 + 1 + 1 + 40);
    for (let i = 0; i < 40; i++) expect(pt.pteSlot(pgd, 0x10000 + i * PMD_SIZE)).toBe(slots[i]);
    for (let i = 0; i < 40; i++) expect(pt.lo[slots[i] as number]).toBe(pteLoOf(100 + i, _PAGE_PRESENT));
  });

  it('freeTable of a table that still has entries is a BUG', () => {
    const { pt, pgd } = pool();
    pt.pteSlotAlloc(pgd, 0x10000);
    const e = thrown(KernelBug, () => pt.freeTable(pgd));
    expect(e.message).toBe(`free_pgtables: table ${pgd} still has 1 entries`);
  });

  it('freed tables are reused', () => {
    const { pt } = pool();
    const t = pt.allocTable(LEVEL_PTE);
    pt.freeTable(t);
    expect(pt.live).toBe(1);
    expect(pt.allocTable(LEVEL_PMD)).toBe(t);
    expect(pt.level[t]).toBe(LEVEL_PMD);
  });
});

describe('mm/pagetable: walk_page_range', () => {
  it('visits PMD-sized spans in order: present for existing PTE tables, hole otherwise', () => {
    const { pt, pgd } = pool();
    const base = 0x4000_0000; // PUD aligned
    pt.pteSlotAlloc(pgd, base + PMD_SIZE + PAGE_SIZE);
    const seen: string[] = [];
    const r = pt.walk(pgd, base + 3 * PAGE_SIZE, base + 2 * PMD_SIZE + 2 * PAGE_SIZE, {
      present: (t, s, e) => {
        seen.push(`P ${t} ${(s - base) / PG}-${(e - base) / PG}`);
        return 0;
      },
      hole: (s, e) => {
        seen.push(`H ${(s - base) / PG}-${(e - base) / PG}`);
        return 0;
      },
    });
    expect(r).toBe(0);
    expect(seen).toEqual(['H 3-512', `P ${pt.pteTable(pgd, base + PMD_SIZE)} 512-1024`, 'H 1024-1026']);
  });

  it('stops at the first non-zero visitor result and returns it', () => {
    const { pt, pgd } = pool();
    let calls = 0;
    const r = pt.walk(pgd, 0, 4 * PMD_SIZE, {
      present: () => 0,
      hole: () => (++calls === 2 ? -14 : 0),
    });
    expect(r).toBe(-14);
    expect(calls).toBe(2);
  });

  it('pteSlotIn indexes a PTE table by address', () => {
    expect(pteSlotIn(3, 0x7f0000005000)).toBe(3 * 512 + 5);
  });
});

describe('mm/pagetable: free_pgd_range', () => {
  it('frees only tables whose whole span lies inside [floor, ceiling) and that are empty', () => {
    const { pt, pgd } = pool();
    const base = 0x8000_0000; // PUD aligned, pgd slot 0
    const s1 = pt.pteSlotAlloc(pgd, base + 5 * PAGE_SIZE); // PMD span 0 of the PUD
    pt.pteSlotAlloc(pgd, base + PMD_SIZE); // PMD span 1
    expect(pt.live).toBe(5);
    pt.set(s1, pteLoOf(9, _PAGE_PRESENT), 0);

    // span 0 still has an entry; span 1 is empty but the floor cuts into it
    pt.freeRange(pgd, base, base + 2 * PMD_SIZE, 0, base + 2 * PMD_SIZE);
    expect(pt.live).toBe(4); // span 1 freed (fully inside, empty)
    expect(pt.pteTable(pgd, base + PMD_SIZE)).toBe(0);
    expect(pt.pteTable(pgd, base)).not.toBe(0);

    pt.clear(s1);
    // the floor is inside span 0: a neighbour below may still use that table
    pt.freeRange(pgd, base, base + PMD_SIZE, base + PAGE_SIZE, TASK_SIZE);
    expect(pt.live).toBe(4);
    // the ceiling cuts span 0
    pt.freeRange(pgd, base, base + PMD_SIZE, base, base + PMD_SIZE - PAGE_SIZE);
    expect(pt.live).toBe(4);
    // floor and ceiling outside the PTE table's span, but inside the PMD table's: only the PTE table goes
    pt.freeRange(pgd, base, base + PMD_SIZE, base, base + PMD_SIZE);
    expect(pt.live).toBe(3);
    expect(pt.used[pgd]).toBe(1);
    // now the whole PUD span: the PMD table goes, then the PUD table under pgd[0]
    pt.freeRange(pgd, base, base + PMD_SIZE, 0, TASK_SIZE);
    expect(pt.live).toBe(1);
    expect(pt.used[pgd]).toBe(0);
  });

  it('leaves tables outside [start, end) alone', () => {
    const { pt, pgd } = pool();
    pt.pteSlotAlloc(pgd, 0x10000);
    pt.pteSlotAlloc(pgd, 0x10000 + 4 * PMD_SIZE);
    pt.freeRange(pgd, 0x10000 + 4 * PMD_SIZE, 0x10000 + 5 * PMD_SIZE, 0, TASK_SIZE);
    expect(pt.pteTable(pgd, 0x10000)).not.toBe(0);
    expect(pt.pteTable(pgd, 0x10000 + 4 * PMD_SIZE)).toBe(0);
    expect(pt.live).toBe(4);
  });
});

describe('mm/pagetable: page tables of a process (free_pgtables after munmap and exit)', () => {
  it('munmap of a whole region frees the tables it needed; exit frees the pgd', () => {
    const { sim, p } = setup();
    const { pt } = sim.kernel;
    expect(pt.live).toBe(1);
    const a = p.mmap(4 * PG, RW, ANON);
    expect(pt.live).toBe(1); // mmap alone allocates no tables
    p.write(a, new Uint8Array([1]));
    p.write(a + 3 * PG, new Uint8Array([1]));
    expect(pt.live).toBe(4);
    p.munmap(a, 4 * PG);
    expect(pt.live).toBe(1);
    p.exit();
    expect(pt.live).toBe(0);
  });

  it('munmap of part of a PMD span keeps the PTE table the rest still uses', () => {
    const { sim, p } = setup();
    const { pt } = sim.kernel;
    const a = p.mmap(4 * PG, RW, ANON);
    p.write(a, new Uint8Array(4 * PG).fill(1));
    p.munmap(a + 2 * PG, 2 * PG);
    expect(pt.live).toBe(4);
    expect(p.pte(a + PG).kind).toBe('present');
    expect(p.pte(a + 2 * PG).kind).toBe('none');
  });

  it('a mapping in the last PMD below TASK_SIZE has its tables freed by munmap and by exit', () => {
    const { sim, p } = setup();
    const { pt } = sim.kernel;
    const top = TASK_SIZE - PAGE_SIZE;
    const a = sim.run('m', p.task.mmapAt(top, PAGE_SIZE, RW, ANON | MAP_FIXED));
    expect(a).toBe(top);
    p.write(top, new Uint8Array([7]));
    expect(pt.live).toBe(4);
    p.munmap(top, PAGE_SIZE);
    // free_pgtables' ceiling for the last VMA is USER_PGTABLES_CEILING (the top of the address space)
    expect(pt.live).toBe(1);
    p.exit();
    expect(pt.live).toBe(0);
  });

  it('exit after touching the last PMD below TASK_SIZE frees every table (no BUG in __mmdrop)', () => {
    const { sim, p } = setup();
    const top = TASK_SIZE - PAGE_SIZE;
    sim.run('m', p.task.mmapAt(top, PAGE_SIZE, RW, ANON | MAP_FIXED));
    p.write(top, new Uint8Array([7]));
    expect(() => p.exit()).not.toThrow();
    expect(sim.kernel.pt.live).toBe(0);
  });
});
