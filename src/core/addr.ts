/**
 * Address math for 48-bit virtual addresses held as exact JS numbers.
 *
 * JS bitwise operators work on 32-bit signed integers, so `va >> 12` is wrong once va >= 2^31.
 * Every shift, mask and alignment of an address lives here, done with arithmetic, and is
 * property-tested against BigInt (test/core/addr.test.ts).
 *
 * x86-64 4-level paging splits a 48-bit virtual address like this:
 *
 *   47        39 38        30 29        21 20        12 11           0
 *  +------------+------------+------------+------------+--------------+
 *  | PGD index  | PUD index  | PMD index  | PTE index  | page offset  |
 *  +------------+------------+------------+------------+--------------+
 *     9 bits       9 bits       9 bits       9 bits       12 bits
 *
 * @see arch/x86/include/asm/pgtable_64_types.h (Linux v5.3)
 */

export const PAGE_SHIFT = 12;
/** Bytes in a base page (x86-64: 4 KiB). */
export const PAGE_SIZE = 4096;
/** Entries in a page table at every level (PTRS_PER_PGD/PUD/PMD/PTE). */
export const PTRS_PER_TABLE = 512;
/** log2 of the bytes a PMD entry maps: a 2 MiB huge page. */
export const PMD_SHIFT = 21;
/** Bytes a PMD entry maps (2 MiB). */
export const PMD_SIZE = 2 ** PMD_SHIFT;
/** log2 of the bytes a PUD entry maps (1 GiB). */
export const PUD_SHIFT = 30;
/** Bytes a PUD entry maps (1 GiB). */
export const PUD_SIZE = 2 ** PUD_SHIFT;
/** log2 of the bytes a PGD entry maps (512 GiB). */
export const PGDIR_SHIFT = 39;
/** Bytes a PGD entry maps (512 GiB). */
export const PGDIR_SIZE = 2 ** PGDIR_SHIFT;
/** One past the highest user address: the 47-bit user half of the 48-bit space (TASK_SIZE_MAX). */
export const TASK_SIZE = 2 ** 47 - PAGE_SIZE;
/** Lowest address mmap hands out by default (mmap_min_addr). */
export const MMAP_MIN_ADDR = 0x10000;
/** Top-down mmap base, like x86-64's mmap_base below the stack gap. */
export const MMAP_BASE = 0x7f00_0000_0000;
/** free_pgtables' ceiling when nothing is mapped above: the top of the user half (USER_PGTABLES_CEILING). */
export const USER_PGTABLES_CEILING = 2 ** 47;
/** Largest value a 48-bit address computation may produce. */
export const ADDR_LIMIT = 2 ** 48;

/** True if `x` is a non-negative integer address below 2^48. */
export function isAddr(x: number): boolean {
  return Number.isInteger(x) && x >= 0 && x <= ADDR_LIMIT;
}

/**
 * True if addr is a multiple of PAGE_SIZE (PAGE_ALIGNED).
 * @see include/linux/mm.h (Linux v5.3)
 */
export function isPageAligned(addr: number): boolean {
  return addr % PAGE_SIZE === 0;
}

/** addr rounded down to its page (addr & PAGE_MASK). */
export function pageAlignDown(addr: number): number {
  return addr - (addr % PAGE_SIZE);
}

/**
 * addr rounded up to a page boundary (PAGE_ALIGN).
 * @see include/linux/mm.h (Linux v5.3)
 */
export function pageAlignUp(addr: number): number {
  const r = addr % PAGE_SIZE;
  return r === 0 ? addr : addr + (PAGE_SIZE - r);
}

/** Virtual page number: addr >> PAGE_SHIFT. */
export function addrToVpn(addr: number): number {
  return Math.floor(addr / PAGE_SIZE);
}

/** The first address of virtual page `vpn`: vpn << PAGE_SHIFT. */
export function vpnToAddr(vpn: number): number {
  return vpn * PAGE_SIZE;
}

/** Number of pages in [start, end), both page aligned. */
export function npagesOf(start: number, end: number): number {
  return (end - start) / PAGE_SIZE;
}

/** 2^0 .. 2^63, so a hot path raises 2 to a variable power with an array load. */
const POW2: readonly number[] = Array.from({ length: 64 }, (_, i) => 2 ** i);

/**
 * 2^n: a table load for an integer n in 0..63 (V8 compiles `2 ** n` with a variable n to a
 * Math.pow call, hundreds of ns on the walk and entry-decoding paths), `2 ** n` otherwise.
 */
export function pow2(n: number): number {
  return POW2[n] ?? 2 ** n;
}

/** Index into the page-table level whose entries each map 2^shift bytes: (addr >> shift) & 511. */
export function levelIndex(addr: number, shift: number): number {
  return Math.floor(addr / pow2(shift)) % PTRS_PER_TABLE;
}

/**
 * pgd_index(): addr's slot in the top-level table.
 * @see arch/x86/include/asm/pgtable.h (Linux v5.3)
 */
export function pgdIndex(addr: number): number {
  return levelIndex(addr, PGDIR_SHIFT);
}
/**
 * pud_index(): addr's slot in its PUD table.
 * @see arch/x86/include/asm/pgtable.h (Linux v5.3)
 */
export function pudIndex(addr: number): number {
  return levelIndex(addr, PUD_SHIFT);
}
/**
 * pmd_index(): addr's slot in its PMD table.
 * @see arch/x86/include/asm/pgtable.h (Linux v5.3)
 */
export function pmdIndex(addr: number): number {
  return levelIndex(addr, PMD_SHIFT);
}
/**
 * pte_index(): addr's slot in its PTE table.
 * @see arch/x86/include/asm/pgtable.h (Linux v5.3)
 */
export function pteIndex(addr: number): number {
  return levelIndex(addr, PAGE_SHIFT);
}

/** Start of the naturally aligned 2^shift block holding addr. */
export function alignDown(addr: number, size: number): number {
  return addr - (addr % size);
}

/** addr rounded up to a multiple of `size` (ALIGN). */
export function alignUp(addr: number, size: number): number {
  const r = addr % size;
  return r === 0 ? addr : addr + (size - r);
}

/** End of the block of `size` bytes that contains addr, clamped to `limit` (pmd_addr_end and friends). */
export function blockEnd(addr: number, size: number, limit: number): number {
  const end = alignDown(addr, size) + size;
  return Math.min(end, limit);
}

/**
 * pmd_addr_end(): where a page-table walk leaves addr's PMD entry, at most `end`.
 * @see include/asm-generic/pgtable.h (Linux v5.3)
 */
export function pmdAddrEnd(addr: number, end: number): number {
  return blockEnd(addr, PMD_SIZE, end);
}

/**
 * pud_addr_end(): where a page-table walk leaves addr's PUD entry, at most `end`.
 * @see include/asm-generic/pgtable.h (Linux v5.3)
 */
export function pudAddrEnd(addr: number, end: number): number {
  return blockEnd(addr, PUD_SIZE, end);
}

/**
 * pgd_addr_end(): where a page-table walk leaves addr's PGD entry, at most `end`.
 * @see include/asm-generic/pgtable.h (Linux v5.3)
 */
export function pgdAddrEnd(addr: number, end: number): number {
  return blockEnd(addr, PGDIR_SIZE, end);
}

const TWO_32 = 2 ** 32;

/**
 * Hex form for messages: 0x7f0000001000. A user address is above 2^32, where V8's toString(16)
 * takes its slow path for doubles; two 32-bit halves take the fast one (a few scheduling-point
 * labels per device fault are built with it).
 */
export function hex(x: number): string {
  if (x < TWO_32 || !Number.isSafeInteger(x)) return `0x${x.toString(16)}`;
  const hi = Math.floor(x / TWO_32);
  return `0x${hi.toString(16)}${(x - hi * TWO_32).toString(16).padStart(8, '0')}`;
}
