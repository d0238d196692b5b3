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
export const PAGE_SIZE = 4096;
export const PTRS_PER_TABLE = 512;
export const PMD_SHIFT = 21;
export const PMD_SIZE = 2 ** PMD_SHIFT;
export const PUD_SHIFT = 30;
export const PUD_SIZE = 2 ** PUD_SHIFT;
export const PGDIR_SHIFT = 39;
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

export function isPageAligned(addr: number): boolean {
  return addr % PAGE_SIZE === 0;
}

export function pageAlignDown(addr: number): number {
  return addr - (addr % PAGE_SIZE);
}

export function pageAlignUp(addr: number): number {
  const r = addr % PAGE_SIZE;
  return r === 0 ? addr : addr + (PAGE_SIZE - r);
}

/** Virtual page number: addr >> PAGE_SHIFT. */
export function addrToVpn(addr: number): number {
  return Math.floor(addr / PAGE_SIZE);
}

export function vpnToAddr(vpn: number): number {
  return vpn * PAGE_SIZE;
}

/** Number of pages in [start, end), both page aligned. */
export function npagesOf(start: number, end: number): number {
  return (end - start) / PAGE_SIZE;
}

/** Index into the page-table level whose entries each map 2^shift bytes: (addr >> shift) & 511. */
export function levelIndex(addr: number, shift: number): number {
  return Math.floor(addr / 2 ** shift) % PTRS_PER_TABLE;
}

export function pgdIndex(addr: number): number {
  return levelIndex(addr, PGDIR_SHIFT);
}
export function pudIndex(addr: number): number {
  return levelIndex(addr, PUD_SHIFT);
}
export function pmdIndex(addr: number): number {
  return levelIndex(addr, PMD_SHIFT);
}
export function pteIndex(addr: number): number {
  return levelIndex(addr, PAGE_SHIFT);
}

/** Start of the naturally aligned 2^shift block holding addr. */
export function alignDown(addr: number, size: number): number {
  return addr - (addr % size);
}

export function alignUp(addr: number, size: number): number {
  const r = addr % size;
  return r === 0 ? addr : addr + (size - r);
}

/** End of the block of `size` bytes that contains addr, clamped to `limit` (pmd_addr_end and friends). */
export function blockEnd(addr: number, size: number, limit: number): number {
  const end = alignDown(addr, size) + size;
  return Math.min(end, limit);
}

export function pmdAddrEnd(addr: number, end: number): number {
  return blockEnd(addr, PMD_SIZE, end);
}

export function pudAddrEnd(addr: number, end: number): number {
  return blockEnd(addr, PUD_SIZE, end);
}

export function pgdAddrEnd(addr: number, end: number): number {
  return blockEnd(addr, PGDIR_SIZE, end);
}

/** Hex form for messages: 0x7f0000001000. */
export function hex(x: number): string {
  return `0x${x.toString(16)}`;
}
