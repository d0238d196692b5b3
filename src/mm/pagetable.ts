/**
 * Page tables: a 4-level radix tree of 512-entry tables (x86-64: pgd → pud → pmd → pte), all
 * tables of a simulator in one pool of typed arrays. Entry `i` of table `t` is slot `t*512 + i`;
 * its two u32 words are `lo[slot]` and `hi[slot]` (layout in pte.ts). An upper-level entry that is
 * present holds the index of the next-level table in its pfn field. A none upper-level entry is a
 * hole covering the whole span below it, which is what the kernel's walker reports as pte_hole.
 *
 * A huge PMD (pte.ts, _PAGE_PSE) is a leaf one level up: `child` reports no table behind it, the
 * read-only lookups (`pteTable`, `pteSlot`) see no PTE table there, `walk` hands it to the
 * visitor's `huge` callback, and the allocating lookups refuse it — whoever wants PTEs under a
 * huge PMD splits it first (split_huge_pmd, huge_memory.ts), as the kernel's callers do.
 *
 * `used[t]` counts the non-none entries of table t, so free_pgtables can release tables that a
 * munmap emptied without scanning them.
 *
 * Divergence: page-table pages are not struct pages, so they are neither charged nor counted
 * against RAM (the kernel allocates them from the page allocator).
 *
 * @see mm/memory.c (__pte_alloc, free_pgd_range), mm/pagewalk.c (Linux v5.3)
 */

import { levelIndex, PGDIR_SHIFT, PMD_SHIFT, PMD_SIZE, PTRS_PER_TABLE, PUD_SHIFT } from '../core/addr.js';
import { KernelBug } from '../core/assert.js';
import { MemKind, memRead } from '../sched/index.js';
import {
  _PAGE_PRESENT,
  _PAGE_PSE,
  isSwapPmd,
  pteHiOf,
  pteHiWithPfn,
  pteLoOf,
  pteNone,
  ptePfn,
} from './pte.js';

/** Table levels, counted from the leaves. */
export const LEVEL_PTE = 1;
/** A page middle directory: 512 entries, each a PTE table or a 2 MiB huge page. */
export const LEVEL_PMD = 2;
/** A page upper directory: 512 entries of 1 GiB each. */
export const LEVEL_PUD = 3;
/** The top-level page global directory, the one an mm's pgd points at. */
export const LEVEL_PGD = 4;

const SHIFT_OF_LEVEL = [0, 12, PMD_SHIFT, PUD_SHIFT, PGDIR_SHIFT];
const UPPER_ENTRY_FLAGS = _PAGE_PRESENT | 0x66; // present | rw | user | accessed | dirty (_PAGE_TABLE)
const TABLE_WORDS = PTRS_PER_TABLE;

interface PoolArrays {
  lo: Uint32Array;
  hi: Uint32Array;
  used: Uint16Array;
  level: Uint8Array;
}

/** Arrays of released pools by capacity (PageTablePool.release). */
const spares = new Map<number, PoolArrays[]>();
const SPARES_MAX = 4;
const EMPTY_U32 = new Uint32Array(0);
const EMPTY_U16 = new Uint16Array(0);
const EMPTY_U8 = new Uint8Array(0);

/**
 * Every page table of a machine in one pool of typed arrays, slot = table * 512 + index (see the file
 * comment). @see mm/memory.c (__pte_alloc), v5.3
 */
export class PageTablePool {
  /** Low word of each entry, by slot: the flag bits and low pfn bits (pte.ts). */
  lo: Uint32Array;
  /** High word of each entry, by slot: the high pfn bits and high flags (pte.ts). */
  hi: Uint32Array;
  /** Non-none entries of each table, by table index: 0 lets free_pgd_range free it. */
  used: Uint16Array;
  /** Level of each table (LEVEL_PTE..LEVEL_PGD), 0 while the table is free. */
  level: Uint8Array;
  private capacity: number;
  private readonly freeTables: number[] = [];
  private next = 1;
  /** Tables currently allocated. */
  live = 0;

  constructor(initialTables = 64) {
    this.capacity = initialTables;
    const spare = spares.get(initialTables)?.pop();
    if (spare !== undefined) {
      this.lo = spare.lo.fill(0);
      this.hi = spare.hi.fill(0);
      this.used = spare.used.fill(0);
      this.level = spare.level.fill(0);
      return;
    }
    this.lo = new Uint32Array(initialTables * TABLE_WORDS);
    this.hi = new Uint32Array(initialTables * TABLE_WORDS);
    this.used = new Uint16Array(initialTables);
    this.level = new Uint8Array(initialTables);
  }

  /**
   * Gives the pool's arrays to the next pool of the same initial capacity (zeroed then). The
   * caller promises that neither the pool nor any mm of its machine is used again; afterwards the
   * pool is empty. The explorer discards a machine after every schedule, thousands per second, and
   * fresh typed arrays (off-heap, zero-filled, swept by the GC) would be a third of its time.
   */
  release(): void {
    let list = spares.get(this.capacity);
    if (list === undefined) {
      list = [];
      spares.set(this.capacity, list);
    }
    if (list.length < SPARES_MAX) list.push({ lo: this.lo, hi: this.hi, used: this.used, level: this.level });
    this.capacity = 0;
    this.lo = this.hi = EMPTY_U32;
    this.used = EMPTY_U16;
    this.level = EMPTY_U8;
  }

  /** A zeroed table for `level`. Table 0 is never handed out, so 0 can mean "no table". */
  allocTable(level: number): number {
    const t = this.freeTables.pop() ?? this.next++;
    if (t >= this.capacity) this.growTo(t + 1);
    this.level[t] = level;
    this.used[t] = 0;
    this.live++;
    return t;
  }

  /** Returns empty table `t` to the pool; a KernelBug if it still has entries. */
  freeTable(t: number): void {
    memRead(MemKind.ptused, t, 0);
    if (this.used[t] !== 0)
      throw new KernelBug(`free_pgtables: table ${t} still has ${this.used[t]} entries`);
    this.level[t] = 0;
    this.live--;
    this.freeTables.push(t);
  }

  private growTo(tables: number): void {
    const cap = Math.max(tables, this.capacity * 2);
    const lo = new Uint32Array(cap * TABLE_WORDS);
    lo.set(this.lo);
    const hi = new Uint32Array(cap * TABLE_WORDS);
    hi.set(this.hi);
    const used = new Uint16Array(cap);
    used.set(this.used);
    const level = new Uint8Array(cap);
    level.set(this.level);
    this.lo = lo;
    this.hi = hi;
    this.used = used;
    this.level = level;
    this.capacity = cap;
  }

  /** Writes an entry and keeps `used` exact. */
  set(slot: number, lo: number, hi: number): void {
    const wasNone = pteNone(this.lo[slot] as number, this.hi[slot] as number);
    const isNone = pteNone(lo, hi);
    this.lo[slot] = lo;
    this.hi[slot] = hi;
    if (wasNone !== isNone) {
      const t = slot >>> 9;
      this.used[t] = (this.used[t] as number) + (isNone ? -1 : 1);
    }
  }

  /** pte_clear(): makes the entry at `slot` none. */
  clear(slot: number): void {
    this.set(slot, 0, 0);
  }

  /** Index of the child table an upper-level entry points to, or 0 for a none entry. */
  child(slot: number): number {
    const lo = this.lo[slot] as number;
    return (lo & (_PAGE_PRESENT | _PAGE_PSE)) === _PAGE_PRESENT ? ptePfn(lo, this.hi[slot] as number) : 0;
  }

  /** Slot of the PMD entry covering `addr`, or -1 if the PUD level above it is none (pmd_offset). */
  pmdSlot(pgd: number, addr: number): number {
    const pud = this.child(pgd * TABLE_WORDS + levelIndex(addr, PGDIR_SHIFT));
    if (pud === 0) return -1;
    const pmd = this.child(pud * TABLE_WORDS + levelIndex(addr, PUD_SHIFT));
    return pmd === 0 ? -1 : pmd * TABLE_WORDS + levelIndex(addr, PMD_SHIFT);
  }

  /** The PMD entry's slot for `addr`, allocating the PUD and PMD tables if missing (pmd_alloc). */
  pmdSlotAlloc(pgd: number, addr: number): number {
    const pud = this.childAlloc(pgd * TABLE_WORDS + levelIndex(addr, PGDIR_SHIFT), LEVEL_PUD);
    const pmd = this.childAlloc(pud * TABLE_WORDS + levelIndex(addr, PUD_SHIFT), LEVEL_PMD);
    return pmd * TABLE_WORDS + levelIndex(addr, PMD_SHIFT);
  }

  /**
   * Slot of the leaf entry that translates `addr`: its PTE, or the huge PMD above it (check with
   * pmdHuge on its lo word); -1 if there is neither (what the MMU's walk would find).
   */
  leafSlot(pgd: number, addr: number): number {
    const pmd = this.pmdSlot(pgd, addr);
    if (pmd < 0) return -1;
    if ((this.lo[pmd] as number) & _PAGE_PSE) return pmd;
    const t = this.child(pmd);
    return t === 0 ? -1 : t * TABLE_WORDS + levelIndex(addr, 12);
  }

  /**
   * The entry that maps `addr`'s page, as a PTE would: written to out[0] (lo) and out[1] (hi),
   * narrowed to that page when a PMD maps it (a huge PMD, a PMD migration entry or a device-private
   * THP: the subpage's pfn under the PMD's low bits). Returns the level it was found at: LEVEL_PMD,
   * LEVEL_PTE, or 0 for none (out is [0, 0]). For readers of the tables (checkers, reports);
   * leafSlot is the MMU's walk, which a non-present PMD stops.
   */
  pageEntry(pgd: number, addr: number, out: Uint32Array): number {
    out[0] = 0;
    out[1] = 0;
    const pmd = this.pmdSlot(pgd, addr);
    if (pmd < 0) return 0;
    const lo = this.lo[pmd] as number;
    const hi = this.hi[pmd] as number;
    if (lo & _PAGE_PSE || isSwapPmd(lo, hi)) {
      const sub = ptePfn(lo, hi) + pmdSubpage(addr);
      out[0] = pteLoOf(sub, lo);
      out[1] = pteHiWithPfn(hi, sub);
      return LEVEL_PMD;
    }
    const t = this.child(pmd);
    if (t === 0) return 0;
    const slot = pteSlotIn(t, addr);
    out[0] = this.lo[slot] as number;
    out[1] = this.hi[slot] as number;
    return out[0] === 0 && out[1] === 0 ? 0 : LEVEL_PTE;
  }

  /** Slot of the huge PMD mapping `addr`, or -1 if there is none (pmd_trans_huge(*pmd)). */
  hugePmdSlot(pgd: number, addr: number): number {
    const slot = this.pmdSlot(pgd, addr);
    return slot >= 0 && (this.lo[slot] as number) & _PAGE_PSE ? slot : -1;
  }

  /** Slot of the non-present, non-none PMD covering `addr` (is_swap_pmd), or -1. */
  swapPmdSlot(pgd: number, addr: number): number {
    const slot = this.pmdSlot(pgd, addr);
    return slot >= 0 && isSwapPmd(this.lo[slot] as number, this.hi[slot] as number) ? slot : -1;
  }

  /** Slot of the entry for `addr` in table `t` at `level`. */
  slotOf(t: number, level: number, addr: number): number {
    return t * TABLE_WORDS + levelIndex(addr, SHIFT_OF_LEVEL[level] as number);
  }

  /** The PTE table mapping `addr`, or 0 if an upper level is none (pte_offset_map without alloc). */
  pteTable(pgd: number, addr: number): number {
    const pud = this.child(pgd * TABLE_WORDS + levelIndex(addr, PGDIR_SHIFT));
    if (pud === 0) return 0;
    const pmd = this.child(pud * TABLE_WORDS + levelIndex(addr, PUD_SHIFT));
    if (pmd === 0) return 0;
    return this.child(pmd * TABLE_WORDS + levelIndex(addr, PMD_SHIFT));
  }

  /** Slot of the PTE for `addr`, or -1 if its table does not exist. */
  pteSlot(pgd: number, addr: number): number {
    const t = this.pteTable(pgd, addr);
    return t === 0 ? -1 : t * TABLE_WORDS + levelIndex(addr, 12);
  }

  /** The PTE table for `addr`, allocating missing levels (__pud_alloc, __pmd_alloc, __pte_alloc). */
  pteTableAlloc(pgd: number, addr: number): number {
    const pud = this.childAlloc(pgd * TABLE_WORDS + levelIndex(addr, PGDIR_SHIFT), LEVEL_PUD);
    const pmd = this.childAlloc(pud * TABLE_WORDS + levelIndex(addr, PUD_SHIFT), LEVEL_PMD);
    return this.childAlloc(pmd * TABLE_WORDS + levelIndex(addr, PMD_SHIFT), LEVEL_PTE);
  }

  /** pte_alloc + pte_offset: the slot of `addr`'s PTE, allocating the missing tables on the way. */
  pteSlotAlloc(pgd: number, addr: number): number {
    return this.pteTableAlloc(pgd, addr) * TABLE_WORDS + levelIndex(addr, 12);
  }

  /** A new, empty table of `level` installed at `slot`, which must be none (pte_alloc after a split). */
  populateTable(slot: number, level: number): number {
    if (this.lo[slot] !== 0 || this.hi[slot] !== 0)
      throw new KernelBug(`pmd_populate: slot ${slot} is not none`);
    const t = this.allocTable(level);
    this.set(slot, pteLoOf(t, UPPER_ENTRY_FLAGS), pteHiOf(t));
    return t;
  }

  private childAlloc(slot: number, level: number): number {
    const c = this.child(slot);
    if (c !== 0) return c;
    if ((this.lo[slot] as number) & _PAGE_PSE)
      throw new KernelBug(`pte_alloc: slot ${slot} holds a huge PMD; split_huge_pmd it first`);
    const t = this.allocTable(level);
    this.set(slot, pteLoOf(t, UPPER_ENTRY_FLAGS), pteHiOf(t));
    return t;
  }

  /**
   * Visits [start, end) one PTE table at a time: `present(table, start, end)` for spans whose PTE
   * table exists and `hole(start, end)` for spans with a none pgd/pud/pmd entry, in address order.
   * A non-zero return from a visitor stops the walk and is returned (walk_page_range). A huge PMD
   * goes to `huge(pmdSlot, start, end)`; a walker without one must never meet one (KernelBug).
   */
  walk(pgd: number, start: number, end: number, v: PteTableVisitor): number {
    let addr = start;
    while (addr < end) {
      const next = Math.min(end, addr - (addr % PMD_SIZE) + PMD_SIZE);
      const t = this.pteTable(pgd, addr);
      if (t === 0) {
        const h = this.hugePmdSlot(pgd, addr);
        if (h >= 0) {
          if (v.huge === undefined) throw new KernelBug(`page walk met a huge PMD at 0x${addr.toString(16)}`);
          const r = v.huge(h, addr, next);
          if (r !== 0) return r;
          addr = next;
          continue;
        }
        const sw = v.swapPmd === undefined ? -1 : this.swapPmdSlot(pgd, addr);
        if (sw >= 0) {
          const r = v.swapPmd?.(sw, addr, next) ?? 0;
          if (r !== 0) return r;
          addr = next;
          continue;
        }
      }
      const r = t === 0 ? v.hole(addr, next) : v.present(t, addr, next);
      if (r !== 0) return r;
      addr = next;
    }
    return 0;
  }

  /**
   * free_pgd_range: frees every table whose whole span lies inside [floor, ceiling) and holds no
   * entries, then clears the entry that pointed to it.
   */
  freeRange(pgd: number, start: number, end: number, floor: number, ceiling: number): void {
    this.freeLevel(pgd, LEVEL_PGD, 0, start, end, floor, ceiling);
  }

  private freeLevel(
    t: number,
    level: number,
    base: number,
    start: number,
    end: number,
    floor: number,
    ceiling: number,
  ): void {
    const shift = SHIFT_OF_LEVEL[level] as number;
    const size = 2 ** shift;
    const first = Math.max(0, Math.floor((start - base) / size));
    const last = Math.min(PTRS_PER_TABLE - 1, Math.floor((end - 1 - base) / size));
    for (let i = first; i <= last; i++) {
      const slot = t * TABLE_WORDS + i;
      const c = this.child(slot);
      if (c === 0) continue;
      const a = base + i * size;
      memRead(MemKind.ptused, c, 0);
      if (level > LEVEL_PMD) this.freeLevel(c, level - 1, a, start, end, floor, ceiling);
      if (a >= floor && a + size <= ceiling && this.used[c] === 0) {
        this.freeTable(c);
        this.clear(slot);
      }
    }
  }
}

/** Callbacks of PageTablePool.walk; each returns 0 to continue or a non-zero code that stops the walk. */
export interface PteTableVisitor {
  /** A PTE table `table` exists for [start, end) (within one 2 MiB span). */
  present(table: number, start: number, end: number): number;
  /** [start, end) has no PTE table: a none pgd, pud or pmd entry (pte_hole). */
  hole(start: number, end: number): number;
  /** A huge PMD at `pmdSlot` maps [start, end) (part of its 2 MiB when the walk is partial). */
  huge?(pmdSlot: number, start: number, end: number): number;
  /**
   * A non-present PMD (is_swap_pmd: a PMD migration or device-private entry) at `pmdSlot` covers
   * [start, end). Walkers without this callback see a hole there, as before v6.19's entries.
   */
  swapPmd?(pmdSlot: number, start: number, end: number): number;
}

/** Which of the 512 pages of its PMD `addr` falls in (the subpage index under a huge PMD). */
export function pmdSubpage(addr: number): number {
  return levelIndex(addr, 12);
}

/** Slot of `addr`'s entry inside PTE table `t`. */
export function pteSlotIn(t: number, addr: number): number {
  return t * TABLE_WORDS + levelIndex(addr, 12);
}
