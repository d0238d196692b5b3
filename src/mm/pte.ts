/**
 * Page-table entry encoding: one 64-bit entry held as two u32 words (lo = bits 0..31, hi = 32..63),
 * because JS bitwise operators are 32-bit. Present entries follow x86-64:
 *
 *   63  62..59 58      52..51 ........ 12  11   10   9    8  7   6  5  4   3   2  1  0
 *  +--+------+------+-----------------+----+----+----+---+---+--+--+---+---+--+--+--+
 *  |NX| pkey |DEVMAP|  pfn (40 bits)  |SD  |SW2 |SPEC| G |PAT|D |A |PCD|PWT|U |RW|P |
 *  +--+------+------+-----------------+----+----+----+---+---+--+--+---+---+--+--+--+
 *     hi word: bits 0..19 = pfn bits 20..39, bit 26 = DEVMAP, bit 31 = NX
 *     lo word: bits 12..31 = pfn bits 0..19, bits 0..11 = flags
 *
 * Non-present, non-zero entries are swap-type entries. x86-64 stores the type in bits 59..63 and
 * the inverted offset in bits 9..58 (the L1TF mitigation); the model keeps the same information in
 * a simpler place — the type in lo bits 1..5 and the offset where the pfn of a present entry sits —
 * so one pfn accessor serves both. For migration, device-private and device-exclusive entries (the
 * "PFN swap entries" of today's swapops.h) the offset is the pfn.
 *
 *   lo: | offset bits 0..19 (12..31) | 0 (6..11) | swap type (1..5) | P=0 |
 *
 * A device-exclusive entry (SWP_DEVICE_EXCLUSIVE, v5.14; one type since v6.15) stands in for a
 * writable PTE of an anonymous page while a device holds it for atomics: the page stays mapped
 * (mapcount, rss and the mapping's reference are unchanged), but any CPU access faults and
 * restores the PTE (make_device_exclusive in device_exclusive.ts, do_swap_page in fault.ts).
 *
 * Upper levels (pgd, pud, pmd) use the same present bit, with the pfn field holding the index of
 * the next-level table in the page-table pool instead of a physical frame (see pagetable.ts).
 *
 * A huge PMD (pmd_trans_huge, or a hugetlb PMD) is a leaf at the PMD level: bit 7, the PTE's PAT
 * bit, is _PAGE_PSE there, and the pfn field holds the first frame of the 2 MiB it maps (the head
 * of an order-9 compound page, so its low 9 bits are 0). Every other bit means what it means in a
 * PTE; PROTNONE keeps the page and traps, as for a PTE. A PTE in the model never sets bit 7, and a
 * table pointer never does, so the bit alone tells a huge PMD from a table pointer.
 *
 *   63  62..59 58      52..51 ...... 21  20..12  11   10   9    8   7   6  5  4   3   2  1  0
 *  +--+------+------+---------------+--------+----+----+----+---+---+--+--+---+---+--+--+--+
 *  |NX| pkey |DEVMAP| pfn of head   |   0    |SD  |SW2 |SPEC| G |PSE|D |A |PCD|PWT|U |RW|P |
 *  +--+------+------+---------------+--------+----+----+----+---+---+--+--+---+---+--+--+--+
 *     (pfn bits 0..8, entry bits 12..20, are zero: the frame is 2 MiB aligned)
 *
 * A non-present PMD (is_swap_pmd: not none, not pmd_present) is a swap-type entry laid out as a
 * PTE's: the swap type in lo bits 1..5 and, for the two kinds the mm core makes (v6.19, with
 * CONFIG_ARCH_ENABLE_THP_MIGRATION), the pfn of the head of the order-9 folio in the offset. A PMD
 * migration entry (set_pmd_migration_entry) stands in for a huge PMD while its folio migrates; a
 * device-private PMD entry (v6.19) maps a device-private THP. PSE is clear in both: x86's
 * pmd_present counts PSE as present (so a PMD that pmdp_invalidate cleared P on stays present), so
 * a swap PMD with PSE set would not be one; the model's swap layout never sets bit 7.
 *
 *   lo: | head pfn bits 0..19 (12..31; bits 12..20 zero) | 0 (6..11) | swap type (1..5) | P=0 |
 *
 * The huge zero page is mapped by a read-only huge PMD whose pfn is that page's head
 * (is_huge_zero_pmd compares the pfn, as the kernel does); it never carries RW.
 *
 * @see arch/x86/include/asm/pgtable_types.h, arch/x86/include/asm/pgtable_64.h (Linux v5.3)
 * @see include/linux/swapops.h (Linux v5.3; make_device_exclusive_entry, is_device_exclusive_entry
 * and SWP_DEVICE_EXCLUSIVE of include/linux/swap.h as of Linux v6.19)
 * @see arch/x86/include/asm/pgtable.h (pmd_trans_huge, pmd_mkhuge, pmd_present) (Linux v6.19)
 * @see include/linux/swapops.h (is_swap_pmd, is_pmd_migration_entry, is_pmd_device_private_entry,
 * is_pmd_non_present_folio_entry) (Linux v6.19)
 */

export const _PAGE_PRESENT = 1 << 0;
/** _PAGE_RW: the mapping is writable. */
export const _PAGE_RW = 1 << 1;
/** _PAGE_USER: user mode may access the page. */
export const _PAGE_USER = 1 << 2;
/** _PAGE_ACCESSED: set by the MMU on any access (the young bit). */
export const _PAGE_ACCESSED = 1 << 5;
/** _PAGE_DIRTY: set by the MMU on a write. */
export const _PAGE_DIRTY = 1 << 6;
/** _PAGE_GLOBAL reused as _PAGE_PROTNONE when P=0: a PROT_NONE mapping keeps its page but traps. */
export const _PAGE_PROTNONE = 1 << 8;
/** PSE: in a PMD, this entry maps 2 MiB itself instead of pointing to a PTE table. */
export const _PAGE_PSE = 1 << 7;
/** SOFTW1: a PTE with no struct page behind it, or the shared zero page (pte_special). */
export const _PAGE_SPECIAL = 1 << 9;
/** _PAGE_SOFT_DIRTY: written since the soft-dirty bits were last cleared (/proc/pid/clear_refs). */
export const _PAGE_SOFT_DIRTY = 1 << 11;
/** The flag bits of an entry's low word; the pfn sits above them. */
export const PTE_FLAGS_MASK = 0xfff;
/** hi-word bit of _PAGE_DEVMAP (bit 58 of the entry): ZONE_DEVICE memory mapped by the CPU. */
export const _PAGE_DEVMAP_HI = 1 << 26;
const PFN_LO_SHIFT = 12;
const PFN_LO_BITS = 20;
const PFN_LO_SPAN = 2 ** PFN_LO_BITS;
const PFN_HI_MASK = 0xfffff;

/** Swap entry types (non-present entries). Order is the model's; Linux counts down from MAX_SWAPFILES. */
export const SWP_NONE = 0;
/** A page swapped out to a swap file (the model has no swap device; used only to build that state). */
export const SWP_SWAPFILE = 1;
/** SWP_HWPOISON: the page was hardware-poisoned; an access gets SIGBUS. */
export const SWP_HWPOISON = 2;
/** SWP_MIGRATION_READ: the page is under migration and was mapped read-only; faults wait for it. */
export const SWP_MIGRATION_READ = 3;
/** SWP_MIGRATION_WRITE: the page is under migration and was mapped writable. */
export const SWP_MIGRATION_WRITE = 4;
/** SWP_DEVICE_READ: a read-only mapping of a device-private page; a CPU access migrates it back. */
export const SWP_DEVICE_READ = 5;
/** SWP_DEVICE_WRITE: a writable mapping of a device-private page. */
export const SWP_DEVICE_WRITE = 6;
/**
 * A page a device holds for atomic access: always a stand-in for a writable PTE (v6.15 merged the
 * READ and WRITE types of v5.14 into this one; mprotect leaves it alone and the restore decides).
 */
export const SWP_DEVICE_EXCLUSIVE = 7;
const SWP_TYPE_SHIFT = 1;
const SWP_TYPE_MASK = 0x1f;

/**
 * The low word of an entry mapping `pfn` with `flags` (the bits in PTE_FLAGS_MASK; higher bits are
 * ignored).
 */
export function pteLoOf(pfn: number, flags: number): number {
  return ((pfn % PFN_LO_SPAN) * 2 ** PFN_LO_SHIFT + (flags & PTE_FLAGS_MASK)) >>> 0;
}

/** The high word of an entry mapping `pfn`: the pfn bits above the low word's 20. */
export function pteHiOf(pfn: number): number {
  return Math.floor(pfn / PFN_LO_SPAN) & PFN_HI_MASK;
}

/** The high word `hi` with its pfn bits replaced by `pfn`'s (its other bits, as _PAGE_DEVMAP, kept). */
export function pteHiWithPfn(hi: number, pfn: number): number {
  return ((hi & ~PFN_HI_MASK) | pteHiOf(pfn)) >>> 0;
}

/** pte_pfn / swp_offset: the frame (or offset) of an entry given its two words. */
export function ptePfn(lo: number, hi: number): number {
  return (lo >>> PFN_LO_SHIFT) + (hi & PFN_HI_MASK) * PFN_LO_SPAN;
}

/** pte_none(): both words are zero (nothing mapped, no swap entry). */
export function pteNone(lo: number, hi: number): boolean {
  return lo === 0 && hi === 0;
}

/** pte_present: a page is mapped here (possibly PROT_NONE, which traps but keeps the page). */
export function ptePresent(lo: number): boolean {
  return (lo & (_PAGE_PRESENT | _PAGE_PROTNONE)) !== 0;
}

/** pte_protnone: mapped, but every access traps. */
export function pteProtnone(lo: number): boolean {
  return (lo & (_PAGE_PRESENT | _PAGE_PROTNONE)) === _PAGE_PROTNONE;
}

/** The hardware would complete an access through this entry (P set, and RW for a write). */
export function pteAccessible(lo: number, write: boolean): boolean {
  return write
    ? (lo & (_PAGE_PRESENT | _PAGE_RW)) === (_PAGE_PRESENT | _PAGE_RW)
    : (lo & _PAGE_PRESENT) !== 0;
}

/** pte_write(): the entry is writable (_PAGE_RW). */
export function pteWrite(lo: number): boolean {
  return (lo & _PAGE_RW) !== 0;
}

/** pte_dirty(): the page was written through this entry (_PAGE_DIRTY). */
export function pteDirty(lo: number): boolean {
  return (lo & _PAGE_DIRTY) !== 0;
}

/** pte_special(): no struct page is refcounted through this entry (pfnmap, zero page). */
export function pteSpecial(lo: number): boolean {
  return (lo & _PAGE_SPECIAL) !== 0;
}

/** pte_devmap(): the entry maps a ZONE_DEVICE page (_PAGE_DEVMAP, in the high word). */
export function pteDevmap(hi: number): boolean {
  return (hi & _PAGE_DEVMAP_HI) !== 0;
}

/** pmd_trans_huge / pmd_huge: a PMD-level leaf (present or PROT_NONE). */
export function pmdHuge(lo: number): boolean {
  return (lo & _PAGE_PSE) !== 0;
}

/**
 * pmd_present (x86): P, PROTNONE or PSE. PSE counts so that a huge PMD whose P bit
 * pmdp_invalidate cleared during a split is still taken for a mapped one.
 */
export function pmdPresent(lo: number): boolean {
  return (lo & (_PAGE_PRESENT | _PAGE_PROTNONE | _PAGE_PSE)) !== 0;
}

/** is_swap_pmd: a non-none PMD that is not present holds a swap-type entry. */
export function isSwapPmd(lo: number, hi: number): boolean {
  return !pteNone(lo, hi) && !pmdPresent(lo);
}

/** is_pmd_migration_entry: a PMD standing in for a huge PMD whose folio is being migrated. */
export function isPmdMigrationEntry(lo: number, hi: number): boolean {
  return isSwapPmd(lo, hi) && isMigrationType(swpType(lo));
}

/** is_pmd_device_private_entry (v6.19): a PMD mapping a device-private THP. */
export function isPmdDevicePrivateEntry(lo: number, hi: number): boolean {
  return isSwapPmd(lo, hi) && isDevicePrivateType(swpType(lo));
}

/** is_pmd_non_present_folio_entry (v6.19): a PMD migration or device-private entry. */
export function isPmdNonPresentFolioEntry(lo: number, hi: number): boolean {
  return isPmdMigrationEntry(lo, hi) || isPmdDevicePrivateEntry(lo, hi);
}

/** Swap type of a non-present, non-none entry. */
export function swpType(lo: number): number {
  return (lo >>> SWP_TYPE_SHIFT) & SWP_TYPE_MASK;
}

/** lo word of a swap entry of `type` (the hi word is pteHiOf(offset)). */
export function swpEntryLo(type: number, offset: number): number {
  return ((offset % PFN_LO_SPAN) * 2 ** PFN_LO_SHIFT + (type << SWP_TYPE_SHIFT)) >>> 0;
}

/** is_migration_entry() on a swap type: a read or write migration entry. */
export function isMigrationType(type: number): boolean {
  return type === SWP_MIGRATION_READ || type === SWP_MIGRATION_WRITE;
}

/** is_device_private_entry() on a swap type: a read or write device-private entry. */
export function isDevicePrivateType(type: number): boolean {
  return type === SWP_DEVICE_READ || type === SWP_DEVICE_WRITE;
}

/** is_device_exclusive_entry, on the type of a non-present entry. */
export function isDeviceExclusiveType(type: number): boolean {
  return type === SWP_DEVICE_EXCLUSIVE;
}

/** is_device_exclusive_entry of an entry: non-present, not none, of type SWP_DEVICE_EXCLUSIVE. */
export function isDeviceExclusiveEntry(lo: number): boolean {
  return !ptePresent(lo) && swpType(lo) === SWP_DEVICE_EXCLUSIVE;
}

/** is_write_migration_entry / is_write_device_private_entry. */
export function isWriteSwpType(type: number): boolean {
  return type === SWP_MIGRATION_WRITE || type === SWP_DEVICE_WRITE;
}

/** make_readable_migration_entry / make_readable_device_private_entry: the read type of a write one. */
export function readableSwpType(type: number): number {
  if (type === SWP_MIGRATION_WRITE) return SWP_MIGRATION_READ;
  return type === SWP_DEVICE_WRITE ? SWP_DEVICE_READ : type;
}

/** A readable name for an entry, used by dumps and checkers. */
export function describePte(lo: number, hi: number): string {
  if (pteNone(lo, hi)) return 'none';
  const pfn = ptePfn(lo, hi);
  if (ptePresent(lo)) {
    const f = [pteProtnone(lo) ? 'protnone' : pteWrite(lo) ? 'rw' : 'ro'];
    if (pteDirty(lo)) f.push('dirty');
    if (pteSpecial(lo)) f.push('special');
    if (pteDevmap(hi)) f.push('devmap');
    if (pmdHuge(lo)) f.push('huge');
    return `present pfn=${pfn} ${f.join(',')}`;
  }
  const t = swpType(lo);
  const names: Record<number, string> = {
    [SWP_SWAPFILE]: 'swap',
    [SWP_HWPOISON]: 'hwpoison',
    [SWP_MIGRATION_READ]: 'migration-read',
    [SWP_MIGRATION_WRITE]: 'migration-write',
    [SWP_DEVICE_READ]: 'device-private-read',
    [SWP_DEVICE_WRITE]: 'device-private-write',
    [SWP_DEVICE_EXCLUSIVE]: 'device-exclusive',
  };
  return `${names[t] ?? `swap-type-${t}`} pfn=${pfn}`;
}
