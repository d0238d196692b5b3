/**
 * The accounting checker: recounts, from the page tables and the page caches alone, what the
 * struct page store, the rss counters, the memcg counters, the page allocator and the page-table
 * pool claim, and reports every disagreement as one readable line. It observes and never mutates
 * (DESIGN.md: `check` never changes state), so a test may run it between any two facade calls.
 *
 * What is recounted, and the kernel rule behind each count:
 *
 * - page_mapcount(page) (mm/rmap.c): one per present, non-special PTE that maps the page, and one
 *   per device-private entry (the entry keeps the page's rmap: the CPU fault that migrates it back
 *   and zap_pte_range both treat it as a mapping). A migration entry does not count: try_to_unmap
 *   already removed that mapping, and remove_migration_ptes adds it back.
 * - page_count(page) (mm/swap.c, mm/filemap.c): one reference per mapping, one held by the page
 *   cache (add_to_page_cache), one per GUP pin the caller says it holds (`pins`). ZONE_DEVICE pages
 *   idle at 1 (memremap_pages), so theirs is 1 + mappings + pins. Pages a migration entry points at
 *   are skipped: the migration holds references of its own until it ends.
 * - rss_stat (include/linux/mm.h, mm_counter): MM_ANONPAGES / MM_FILEPAGES / MM_SHMEMPAGES for every
 *   present normal page, device-private entry and migration entry; MM_SWAPENTS per swap-file entry.
 * - reachability (mm/page_alloc.c): an allocated RAM page nobody maps, caches or pins is leaked;
 *   the free-list length is mem.freePages; no PTE, cache or pin refers to a free page.
 * - memcg usage (mm/memcontrol.c): each cgroup's usage is the number of pages charged to it.
 * - rmap (mm/rmap.c, vma_address): a mapped page's ->mapping and ->index lead back to the VMA and
 *   the address that map it (anon_vma in the VMA's chain, or the VMA's file).
 * - page tables (mm/memory.c, free_pgtables): each table's `used` count is its non-none entries,
 *   every live table is reachable from exactly one place, and no PTE lies outside a VMA.
 * - COW (mm/memory.c, do_wp_page): a writable PTE needs VM_WRITE, and in a private mapping it must
 *   map an anonymous page that this mapping owns alone.
 *
 * Run it at a quiescent point (no thread in the middle of a fault, a migration or a GUP whose
 * references it does not pass in `pins`).
 *
 * @see mm/rmap.c, mm/memcontrol.c, mm/page_alloc.c, mm/memory.c, include/linux/mm.h (Linux v5.3)
 */

import { PAGE_SIZE, PGDIR_SHIFT, PMD_SHIFT, PTRS_PER_TABLE, PUD_SHIFT } from '../core/addr.js';
import { KernelBug } from '../core/assert.js';
import { AddressSpace } from '../mm/file.js';
import type { Kernel } from '../mm/kernel.js';
import type { MmStruct } from '../mm/mm.js';
import { MM_SWAPENTS } from '../mm/mm.js';
import {
  HPAGE_PMD_NR,
  PG_anon,
  PG_buddy,
  PG_head,
  PG_hugetlb,
  PG_reserved,
  PG_tail,
  pgmapFreeRefcount,
  ZERO_PFN,
  ZONE_DEVICE,
} from '../mm/page.js';
import { LEVEL_PGD, LEVEL_PMD, LEVEL_PTE } from '../mm/pagetable.js';
import {
  _PAGE_PRESENT,
  describePte,
  isDeviceExclusiveType,
  isDevicePrivateType,
  isMigrationType,
  isPmdMigrationEntry,
  isPmdNonPresentFolioEntry,
  isSwapPmd,
  pmdHuge,
  ptePfn,
  ptePresent,
  pteSpecial,
  pteWrite,
  SWP_HWPOISON,
  SWP_SWAPFILE,
  swpType,
} from '../mm/pte.js';
import { AnonVma } from '../mm/rmap.js';
import type { Vma } from '../mm/vma.js';
import { VM_HUGETLB, VM_MIXEDMAP, VM_PFNMAP, VM_WRITE } from '../mm/vma.js';

/** GUP references the caller holds: pfn -> number of pins. */
export type Pins = ReadonlyMap<number, number>;

const COUNTER_NAMES = ['MM_FILEPAGES', 'MM_ANONPAGES', 'MM_SWAPENTS', 'MM_SHMEMPAGES'];
/** The recount's extra slot after the rss counters: pages mapped from the hugetlb pool. */
const MM_HUGETLB = 4;
const SHIFT_OF_LEVEL = [0, 12, PMD_SHIFT, PUD_SHIFT, PGDIR_SHIFT];
/** Reports longer than this end with a count of the rest. */
const VIOLATIONS_MAX = 100;

/** What the page tables and the page caches say, pfn by pfn. Built by the walk, then compared. */
interface Recount {
  readonly kernel: Kernel;
  /** Present non-special PTEs plus device-private entries. */
  readonly mapped: Int32Array;
  /** Page caches holding the pfn. */
  readonly cached: Int32Array;
  /** Migration entries pointing at the pfn. */
  readonly migrating: Int32Array;
  /** Huge PMDs mapping each compound head (the huge zero page's are not counted). */
  readonly entire: Map<number, number>;
  /** Every table reached from some mm's pgd. */
  readonly tables: Set<number>;
  readonly out: string[];
}

/** The recount's arrays, reused by the next check (off-heap arrays are slow to allocate: core/host_arrays.ts). */
const recountArrays: Int32Array[] = [];

/** Recount array `i` of `size` pfns, zeroed. */
function recountArray(i: number, size: number): Int32Array {
  const a = recountArrays[i];
  if (a !== undefined && a.length === size) return a.fill(0);
  const fresh = new Int32Array(size);
  recountArrays[i] = fresh;
  return fresh;
}

/**
 * Every accounting violation of `kernel`, as readable lines (empty: the books balance). `pins`
 * lists the page references the caller holds through GUP.
 */
export function checkAccounting(kernel: Kernel, pins: Pins = new Map()): string[] {
  const size = kernel.mem.store.size;
  const rc: Recount = {
    kernel,
    mapped: recountArray(0, size),
    cached: recountArray(1, size),
    migrating: recountArray(2, size),
    entire: new Map(),
    tables: new Set(),
    out: [],
  };
  checkRmapLinks(rc);
  recountPageCaches(rc);
  for (const mm of kernel.mms) recountMm(rc, mm);
  checkPins(rc, pins);
  checkPages(rc, pins);
  checkTablePool(rc);
  return truncate(rc.out);
}

/** Throws a KernelBug listing every violation, if there is any. */
export function assertAccounting(kernel: Kernel, pins?: Pins): void {
  const v = checkAccounting(kernel, pins);
  if (v.length === 0) return;
  throw new KernelBug(`accounting check failed (${v.length} violations):\n  ${v.join('\n  ')}`, 'ACCOUNTING');
}

function truncate(out: string[]): string[] {
  if (out.length <= VIOLATIONS_MAX) return out;
  return [...out.slice(0, VIOLATIONS_MAX), `... and ${out.length - VIOLATIONS_MAX} more`];
}

function hex(addr: number): string {
  return `0x${addr.toString(16)}`;
}

// -- VMAs and the objects that point back at them -------------------------------------------------

/** Every VMA of every live mm is linked where rmap looks for it, and nothing stale is linked. */
function checkRmapLinks(rc: Recount): void {
  const live = new Set<Vma>();
  for (const mm of rc.kernel.mms) {
    checkVmaList(rc, mm);
    for (const vma of mm.vmas) live.add(vma);
  }
  for (const obj of rc.kernel.mappings.values()) {
    const set = obj instanceof AddressSpace ? obj.mmaps : obj.vmas;
    const kind = obj instanceof AddressSpace ? `i_mmap of ${obj.name}` : `anon_vma ${obj.id}`;
    for (const vma of set) {
      if (!live.has(vma)) rc.out.push(`${kind} links ${vma} (mm ${vma.mm.id}), which no live mm has`);
    }
  }
}

/** Sorted, page aligned, non-overlapping, owned by this mm, linked into its file and anon_vmas. */
function checkVmaList(rc: Recount, mm: MmStruct): void {
  let prevEnd = 0;
  for (const vma of mm.vmas) {
    const where = `mm ${mm.id} VMA ${vma}`;
    if (vma.mm !== mm) rc.out.push(`${where}: belongs to mm ${vma.mm.id}`);
    if (vma.start % PAGE_SIZE !== 0 || vma.end % PAGE_SIZE !== 0 || vma.start >= vma.end)
      rc.out.push(`${where}: bad bounds`);
    if (vma.start < prevEnd) rc.out.push(`${where}: overlaps or is out of order with the previous VMA`);
    prevEnd = vma.end;
    if (vma.file !== null && !vma.file.mmaps.has(vma)) rc.out.push(`${where}: missing from i_mmap`);
    for (const av of vma.anonChain)
      if (!av.vmas.has(vma)) rc.out.push(`${where}: not linked into anon_vma ${av.id} of its chain`);
    if (vma.anonVma !== null && !vma.anonChain.includes(vma.anonVma))
      rc.out.push(`${where}: its anon_vma ${vma.anonVma.id} is not in its chain`);
  }
}

// -- page caches -----------------------------------------------------------------------------------

/** Each cached page: a valid allocated pfn whose ->mapping and ->index name this slot. */
function recountPageCaches(rc: Recount): void {
  const s = rc.kernel.mem.store;
  for (const obj of rc.kernel.mappings.values()) {
    if (!(obj instanceof AddressSpace)) continue;
    for (const [index, pfn] of obj.pages) {
      const where = `page cache of ${obj.name} index ${index}`;
      if (!s.isValidPfn(pfn)) {
        rc.out.push(`${where}: pfn ${pfn} has no struct page`);
        continue;
      }
      rc.cached[pfn] = (rc.cached[pfn] as number) + 1;
      if (s.mapping[pfn] !== obj.id || s.index[pfn] !== index)
        rc.out.push(`${where}: pfn ${pfn} has ->mapping ${s.mapping[pfn]} ->index ${s.index[pfn]}`);
      if ((s.flags[pfn] as number) & PG_anon) rc.out.push(`${where}: pfn ${pfn} is PageAnon`);
    }
  }
}

// -- page tables -----------------------------------------------------------------------------------

/** Walks every table of `mm` and compares the rss it finds with mm.rss. */
function recountMm(rc: Recount, mm: MmStruct): void {
  const rss = [0, 0, 0, 0, 0];
  walkTable(rc, mm, rss, mm.pgd, LEVEL_PGD, 0);
  for (let c = 0; c < MM_HUGETLB; c++) {
    if (mm.rss[c] !== rss[c])
      rc.out.push(`mm ${mm.id}: rss ${COUNTER_NAMES[c]} is ${mm.rss[c]}, the page tables hold ${rss[c]}`);
  }
  if (mm.hugetlbUsage !== rss[MM_HUGETLB])
    rc.out.push(`mm ${mm.id}: hugetlb usage is ${mm.hugetlbUsage}, the page tables hold ${rss[MM_HUGETLB]}`);
}

function walkTable(rc: Recount, mm: MmStruct, rss: number[], t: number, level: number, base: number): void {
  const { pt } = rc.kernel;
  if (rc.tables.has(t)) {
    rc.out.push(`mm ${mm.id}: page table ${t} is reachable twice`);
    return;
  }
  rc.tables.add(t);
  if (pt.level[t] !== level)
    rc.out.push(`mm ${mm.id}: table ${t} has level ${pt.level[t]}, expected ${level}`);
  const span = 2 ** (SHIFT_OF_LEVEL[level] as number);
  const entries = PTRS_PER_TABLE;
  const leaf = level === LEVEL_PTE;
  const { lo: los, hi: his } = pt;
  let used = 0;
  for (let i = 0; i < entries; i++) {
    const slot = t * entries + i;
    const lo = los[slot] as number;
    const hi = his[slot] as number;
    if (lo === 0 && hi === 0) continue;
    used++;
    const addr = base + i * span;
    if (leaf) visitPte(rc, mm, rss, addr, lo, hi);
    else if (level === LEVEL_PMD && pmdHuge(lo)) visitHugePmd(rc, mm, rss, addr, lo, hi);
    else if (level === LEVEL_PMD && isSwapPmd(lo, hi)) visitSwapPmd(rc, mm, rss, addr, lo, hi);
    else walkChild(rc, mm, rss, slot, level, addr);
  }
  if (pt.used[t] !== used)
    rc.out.push(`mm ${mm.id}: table ${t} (level ${level}) has used ${pt.used[t]}, but ${used} entries`);
}

function walkChild(
  rc: Recount,
  mm: MmStruct,
  rss: number[],
  slot: number,
  level: number,
  addr: number,
): void {
  const child = rc.kernel.pt.child(slot);
  if (child === 0) {
    rc.out.push(`mm ${mm.id} ${hex(addr)}: level-${level} entry is neither none nor a table`);
    return;
  }
  walkTable(rc, mm, rss, child, level - 1, addr);
}

/** One PTE being visited: where it is, and the rss tally of its mm. */
interface PteSite {
  readonly mm: MmStruct;
  readonly vma: Vma | null;
  readonly addr: number;
  /** Prefix of every message about this PTE. */
  readonly where: string;
  readonly rss: number[];
}

function visitPte(rc: Recount, mm: MmStruct, rss: number[], addr: number, lo: number, hi: number): void {
  const at: PteSite = {
    mm,
    vma: mm.vmaAt(addr),
    addr,
    where: `mm ${mm.id} ${hex(addr)} (${describePte(lo, hi)})`,
    rss,
  };
  if (at.vma === null) rc.out.push(`${at.where}: PTE outside any VMA`);
  const pfn = ptePfn(lo, hi);
  if (!ptePresent(lo) && swpType(lo) === SWP_SWAPFILE) {
    rss[MM_SWAPENTS] = (rss[MM_SWAPENTS] as number) + 1;
    return;
  }
  if (!rc.kernel.mem.store.isValidPfn(pfn)) rc.out.push(`${at.where}: no struct page for pfn ${pfn}`);
  else if (ptePresent(lo)) visitPresent(rc, at, lo, pfn);
  else visitSwapEntry(rc, at, lo, pfn);
}

function visitPresent(rc: Recount, at: PteSite, lo: number, pfn: number): void {
  const s = rc.kernel.mem.store;
  if ((s.flags[pfn] as number) & PG_buddy) rc.out.push(`${at.where}: maps free pfn ${pfn}`);
  if (pteSpecial(lo)) return;
  if (s.isDevicePrivate(pfn)) rc.out.push(`${at.where}: the CPU cannot map device-private pfn ${pfn}`);
  countMapping(rc, at, pfn);
  checkRmap(rc, at, pfn);
  checkWritable(rc, at, lo, pfn);
}

/**
 * A huge PMD: the huge zero page (no mapping counted, as the small zero page), or a compound head
 * mapped whole: one entire mapping, 512 pages of rss, rmap back to this VMA at the aligned address.
 * A writable one must be this mapping's alone (entire mapcount 1, no PTE mapping of any subpage).
 */
function visitHugePmd(rc: Recount, mm: MmStruct, rss: number[], addr: number, lo: number, hi: number): void {
  const s = rc.kernel.mem.store;
  const head = ptePfn(lo, hi);
  const at: PteSite = {
    mm,
    vma: mm.vmaAt(addr),
    addr,
    where: `mm ${mm.id} ${hex(addr)} (huge PMD ${describePte(lo, hi)})`,
    rss,
  };
  if (at.vma === null || at.vma.end < addr + HPAGE_PMD_NR * PAGE_SIZE)
    rc.out.push(`${at.where}: huge PMD not inside one VMA`);
  if (!s.isValidPfn(head) || !((s.flags[head] as number) & PG_head)) {
    rc.out.push(`${at.where}: pfn ${head} is not the head of a compound page`);
    return;
  }
  if (head === rc.kernel.thp.hugeZeroPfn) {
    if (pteWrite(lo)) rc.out.push(`${at.where}: writable huge zero page`);
    if (!mm.hugeZero) rc.out.push(`${at.where}: maps the huge zero page without holding it`);
    return;
  }
  rc.entire.set(head, (rc.entire.get(head) ?? 0) + 1);
  const hugetlb = ((s.flags[head] as number) & PG_hugetlb) !== 0;
  if (hugetlb !== ((at.vma?.flags ?? 0) & VM_HUGETLB) > 0)
    rc.out.push(`${at.where}: ${hugetlb ? 'a hugetlb page outside' : 'a THP inside'} a hugetlb VMA`);
  // hugetlb pages count in hugetlb_usage (tallied in slot MM_HUGETLB of the recount), not in rss.
  const c = hugetlb ? MM_HUGETLB : mm.mmCounter(head);
  rss[c] = (rss[c] as number) + HPAGE_PMD_NR;
  checkRmap(rc, at, head);
  if (at.vma !== null && pteWrite(lo) && (s.entireMapcount.get(head) !== 1 || s.folioMapcount(head) !== 1))
    rc.out.push(
      `${at.where}: writable huge PMD maps compound pfn ${head}, which it does not own (COW not broken)`,
    );
}

/**
 * A non-present PMD (v6.19) stands for 512 pages of rss either way. A device-private one is an
 * entire mapping of its device folio; a migration one holds no mapping, and its folio's references
 * are the migration's (not checked, as for PTE migration entries).
 */
function visitSwapPmd(rc: Recount, mm: MmStruct, rss: number[], addr: number, lo: number, hi: number): void {
  const s = rc.kernel.mem.store;
  const head = ptePfn(lo, hi);
  const where = `mm ${mm.id} ${hex(addr)} (PMD ${describePte(lo, hi)})`;
  if (!isPmdNonPresentFolioEntry(lo, hi)) {
    rc.out.push(`${where}: a non-present PMD is neither migration nor device private`);
    return;
  }
  if (!s.isValidPfn(head) || !((s.flags[head] as number) & PG_head)) {
    rc.out.push(`${where}: pfn ${head} is not the head of a compound page`);
    return;
  }
  const c = mm.mmCounter(head);
  rss[c] = (rss[c] as number) + HPAGE_PMD_NR;
  if (isPmdMigrationEntry(lo, hi)) {
    rc.migrating[head] = (rc.migrating[head] as number) + 1;
    return;
  }
  if (!s.isDevicePrivate(head)) rc.out.push(`${where}: pfn ${head} is not device private`);
  rc.entire.set(head, (rc.entire.get(head) ?? 0) + 1);
}

/**
 * Device-private and device-exclusive entries are mappings; migration entries count in rss only;
 * swap entries too.
 */
function visitSwapEntry(rc: Recount, at: PteSite, lo: number, pfn: number): void {
  const type = swpType(lo);
  if (isDevicePrivateType(type)) {
    if (!rc.kernel.mem.store.isDevicePrivate(pfn))
      rc.out.push(`${at.where}: pfn ${pfn} is not device private`);
    countMapping(rc, at, pfn);
    checkRmap(rc, at, pfn);
  } else if (isDeviceExclusiveType(type)) {
    visitDeviceExclusive(rc, at, pfn);
  } else if (isMigrationType(type)) {
    rc.migrating[pfn] = (rc.migrating[pfn] as number) + 1;
    const c = at.mm.mmCounter(pfn);
    at.rss[c] = (at.rss[c] as number) + 1;
  } else if (type !== SWP_HWPOISON) {
    rc.out.push(`${at.where}: unknown swap type ${type}`);
  }
}

/**
 * A device-exclusive entry (v6.15+) is a mapping of an ordinary anonymous page, counted as the
 * present PTE it stands in for: it may not point at device memory, a hugetlb page or a free frame.
 */
function visitDeviceExclusive(rc: Recount, at: PteSite, pfn: number): void {
  const s = rc.kernel.mem.store;
  const f = s.flags[pfn] as number;
  if (s.isZoneDevice(pfn)) rc.out.push(`${at.where}: device-exclusive entry for device pfn ${pfn}`);
  if (!(f & PG_anon) || f & PG_buddy)
    rc.out.push(`${at.where}: device-exclusive entry for a page that is not anonymous`);
  countMapping(rc, at, pfn);
  checkRmap(rc, at, pfn);
}

function countMapping(rc: Recount, at: PteSite, pfn: number): void {
  rc.mapped[pfn] = (rc.mapped[pfn] as number) + 1;
  const c = at.mm.mmCounter(pfn);
  at.rss[c] = (at.rss[c] as number) + 1;
}

/** page_address_in_vma: the page's ->mapping and ->index must lead back to this VMA and address. */
function checkRmap(rc: Recount, at: PteSite, pfn: number): void {
  const { vma } = at;
  if (vma === null || vma.flags & (VM_PFNMAP | VM_MIXEDMAP)) return;
  const s = rc.kernel.mem.store;
  const owner = rc.kernel.mappings.get(s.mapping[pfn] as number);
  const linked =
    (s.flags[pfn] as number) & PG_anon
      ? owner instanceof AnonVma && vma.anonChain.includes(owner)
      : owner instanceof AddressSpace && owner === vma.file;
  if (!linked) {
    rc.out.push(`${at.where}: pfn ${pfn} (->mapping ${s.mapping[pfn]}) cannot be found from ${vma} by rmap`);
    return;
  }
  const index = s.index[pfn] as number;
  if (vma.addressOf(index) !== at.addr)
    rc.out.push(
      `${at.where}: pfn ${pfn} has ->index ${index}, which rmap places at ${hex(vma.addressOf(index))}`,
    );
}

/** A writable PTE needs VM_WRITE; in a COW mapping it must map an anonymous page mapped once. */
function checkWritable(rc: Recount, at: PteSite, lo: number, pfn: number): void {
  const { vma, where } = at;
  if (vma === null || !pteWrite(lo) || !(lo & _PAGE_PRESENT)) return;
  if (!(vma.flags & VM_WRITE)) {
    rc.out.push(`${where}: writable PTE in ${vma}, which lacks VM_WRITE`);
    return;
  }
  if (!vma.isCowMapping() || vma.flags & (VM_PFNMAP | VM_MIXEDMAP)) return;
  const s = rc.kernel.mem.store;
  if (!((s.flags[pfn] as number) & PG_anon) || s.pageMapcount(pfn) > 1)
    rc.out.push(
      `${where}: writable PTE in private ${vma} maps pfn ${pfn}, which it does not own (COW not broken)`,
    );
}

// -- struct pages ----------------------------------------------------------------------------------

function checkPins(rc: Recount, pins: Pins): void {
  const s = rc.kernel.mem.store;
  for (const [pfn, n] of pins) {
    if (!s.isValidPfn(pfn) || !(n > 0)) rc.out.push(`pins: bad entry pfn ${pfn} x ${n}`);
    else if (pfn > rc.kernel.mem.ramPages && !s.isZoneDevice(pfn))
      rc.out.push(`pins: pfn ${pfn} is beyond RAM`);
  }
}

/**
 * mapcount and refcount of every page, free-list length, reachability, memcg usage. The loop reads
 * typed arrays only (constants copied to locals) and calls out for the pages that need a closer
 * look, because it runs over every pfn after every step of a property test.
 */
function checkPages(rc: Recount, pins: Pins): void {
  const { mem } = rc.kernel;
  const { mapcount, memcg, zone, flags, size } = mem.store;
  const { mapped, cached, migrating } = rc;
  const buddy = PG_buddy;
  const device = ZONE_DEVICE;
  const ramEnd = mem.ramPages;
  const zeroPfn = ZERO_PFN;
  const charged = new Map<number, number>();
  let free = 0;
  let allocated = 0;
  checkZeroPage(rc, pins);
  for (let pfn = 0; pfn < size; pfn++) {
    const m = mapped[pfn] as number;
    if (mapcount[pfn] !== m) rc.out.push(`pfn ${pfn}: mapcount ${mapcount[pfn]}, but ${m} mappings`);
    const cg = memcg[pfn] as number;
    if (cg !== 0)
      charged.set(cg, (charged.get(cg) ?? 0) + ((flags[pfn] as number) & PG_head ? HPAGE_PMD_NR : 1));
    if (pfn === zeroPfn) continue;
    if (zone[pfn] === device) checkDevicePage(rc, pfn, pins);
    else if (pfn > ramEnd) {
      if ((m | (cached[pfn] as number) | (migrating[pfn] as number)) !== 0)
        rc.out.push(`pfn ${pfn}: beyond RAM, but mapped, cached or under migration`);
    } else if ((flags[pfn] as number) & buddy) free += checkFreePage(rc, pfn, pins);
    else if ((flags[pfn] as number) & (PG_head | PG_tail)) allocated += checkCompoundPage(rc, pfn, pins);
    else allocated += checkAllocatedPage(rc, pfn, pins);
  }
  checkEntireMapcounts(rc);
  checkAllocator(rc, free, allocated);
  checkMemcgs(rc, charged);
}

/** References the recount explains: mappings + page cache + pins. */
function expectedRefs(rc: Recount, pfn: number, pins: Pins): number {
  return (rc.mapped[pfn] as number) + (rc.cached[pfn] as number) + (pins.size > 0 ? (pins.get(pfn) ?? 0) : 0);
}

/** What expectedRefs counted, for a report (built only when there is something to report). */
function refsWhy(rc: Recount, pfn: number, pins: Pins): string {
  return `${rc.mapped[pfn]} mappings + ${rc.cached[pfn]} page cache + ${pins.get(pfn) ?? 0} pins`;
}

function checkZeroPage(rc: Recount, pins: Pins): void {
  const s = rc.kernel.mem.store;
  const want = 1 + (pins.get(ZERO_PFN) ?? 0);
  if (s.refcount[ZERO_PFN] !== want)
    rc.out.push(`zero page: refcount ${s.refcount[ZERO_PFN]}, expected ${want}`);
  if (rc.cached[ZERO_PFN] !== 0) rc.out.push('zero page: in a page cache');
}

/**
 * A page of a large device folio (v6.19 device-private THP, free or in use): the head holds the
 * idle refcount plus every mapping of its 512 pages (its entire mappings, PTE mappings after a
 * split PMD) and pins; a tail holds none.
 */
function checkDeviceFolio(rc: Recount, pfn: number, pins: Pins): void {
  const s = rc.kernel.mem.store;
  const head = s.compoundHead(pfn);
  if (pfn !== head) {
    if (s.refcount[pfn] !== 0) rc.out.push(`device tail pfn ${pfn}: refcount ${s.refcount[pfn]}, expected 0`);
    return;
  }
  let refs = pgmapFreeRefcount(s.pgmapOf(head)) + (rc.entire.get(head) ?? 0);
  let migrating = 0;
  for (let i = 0; i < HPAGE_PMD_NR; i++) {
    refs += (rc.mapped[head + i] as number) + (pins.size > 0 ? (pins.get(head + i) ?? 0) : 0);
    migrating += rc.migrating[head + i] as number;
  }
  if (migrating === 0 && s.refcount[head] !== refs)
    rc.out.push(
      `device folio pfn ${head}: refcount ${s.refcount[head]}, expected ${refs} (idle + mappings of its 512 pages + pins)`,
    );
}

/** ZONE_DEVICE pages idle at their pgmap's free refcount (1 seed, 0 today); never in a page cache. */
function checkDevicePage(rc: Recount, pfn: number, pins: Pins): void {
  const s = rc.kernel.mem.store;
  if (rc.cached[pfn] !== 0) rc.out.push(`device pfn ${pfn}: in a page cache`);
  if ((s.flags[pfn] as number) & (PG_head | PG_tail)) {
    checkDeviceFolio(rc, pfn, pins);
    return;
  }
  if (rc.migrating[pfn] !== 0) return;
  const idle = pgmapFreeRefcount(s.pgmapOf(pfn));
  const n = expectedRefs(rc, pfn, pins);
  if (s.refcount[pfn] !== idle + n)
    rc.out.push(
      `device pfn ${pfn}: refcount ${s.refcount[pfn]}, expected ${idle + n} (${idle} idle + ${refsWhy(rc, pfn, pins)})`,
    );
}

function checkFreePage(rc: Recount, pfn: number, pins: Pins): number {
  const s = rc.kernel.mem.store;
  if (s.refcount[pfn] !== 0 || s.memcg[pfn] !== 0)
    rc.out.push(`free pfn ${pfn}: refcount ${s.refcount[pfn]}, memcg ${s.memcg[pfn]}`);
  if (rc.cached[pfn] !== 0 || rc.migrating[pfn] !== 0 || (pins.size > 0 && pins.has(pfn)))
    rc.out.push(`free pfn ${pfn}: still in a page cache, under migration or pinned`);
  return 1;
}

/** refcount = mappings + page cache + pins; zero of them all means nobody can ever free it. */
function checkAllocatedPage(rc: Recount, pfn: number, pins: Pins): number {
  const s = rc.kernel.mem.store;
  if ((s.flags[pfn] as number) & PG_reserved) rc.out.push(`RAM pfn ${pfn}: PG_reserved`);
  if ((rc.cached[pfn] as number) > 1) rc.out.push(`pfn ${pfn}: in ${rc.cached[pfn]} page caches`);
  if (rc.migrating[pfn] !== 0) return 1;
  const n = expectedRefs(rc, pfn, pins);
  if (n === 0) rc.out.push(`pfn ${pfn}: leaked: allocated (refcount ${s.refcount[pfn]}) but unreachable`);
  else if (s.refcount[pfn] !== n)
    rc.out.push(`pfn ${pfn}: refcount ${s.refcount[pfn]}, expected ${n} (${refsWhy(rc, pfn, pins)})`);
  return 1;
}

/**
 * A frame of a compound page. Tails hold no references of their own (the folio's are on the head);
 * the head's refcount is the folio's: every PTE mapping of a subpage, every PMD mapping, every pin
 * of a subpage. The huge zero page holds just its own reference (plus pins).
 */
function checkCompoundPage(rc: Recount, pfn: number, pins: Pins): number {
  const s = rc.kernel.mem.store;
  const head = s.compoundHead(pfn);
  if (!((s.flags[head] as number) & PG_head)) {
    rc.out.push(`tail pfn ${pfn}: its head ${head} is not PG_head`);
    return 1;
  }
  if (pfn !== head) {
    if (s.refcount[pfn] !== 0) rc.out.push(`tail pfn ${pfn}: refcount ${s.refcount[pfn]}, expected 0`);
    if (rc.cached[pfn] !== 0) rc.out.push(`tail pfn ${pfn}: in a page cache`);
    return 1;
  }
  if ((s.flags[head] as number) & PG_hugetlb && rc.kernel.hugetlb.isFree(head)) {
    if (s.refcount[head] !== 0 || rc.entire.has(head) || s.memcg[head] !== 0)
      rc.out.push(
        `hugetlb pfn ${head}: free in the pool but refcount ${s.refcount[head]} or mapped or charged`,
      );
    return 1;
  }
  let refs = rc.entire.get(head) ?? 0;
  let migrating = 0;
  for (let i = 0; i < HPAGE_PMD_NR; i++) {
    refs += (rc.mapped[head + i] as number) + (pins.size > 0 ? (pins.get(head + i) ?? 0) : 0);
    migrating += rc.migrating[head + i] as number;
  }
  if (migrating !== 0) return 1;
  if (head === rc.kernel.thp.hugeZeroPfn) refs += 1;
  if (refs === 0)
    rc.out.push(`compound pfn ${head}: leaked: allocated (refcount ${s.refcount[head]}) but unreachable`);
  else if (s.refcount[head] !== refs)
    rc.out.push(
      `compound pfn ${head}: refcount ${s.refcount[head]}, expected ${refs} (mappings of its 512 pages + pins)`,
    );
  return 1;
}

/** folio->_entire_mapcount of every compound page against the huge PMDs that map it. */
function checkEntireMapcounts(rc: Recount): void {
  const s = rc.kernel.mem.store;
  for (const [head, n] of s.entireMapcount)
    if (rc.entire.get(head) !== n)
      rc.out.push(`compound pfn ${head}: entire mapcount ${n}, but ${rc.entire.get(head) ?? 0} huge PMDs`);
  for (const [head, n] of rc.entire)
    if (!s.entireMapcount.has(head))
      rc.out.push(`compound pfn ${head}: entire mapcount 0, but ${n} huge PMDs`);
}

function checkAllocator(rc: Recount, free: number, allocated: number): void {
  const { mem } = rc.kernel;
  if (free !== mem.freePages)
    rc.out.push(`page allocator: ${mem.freePages} free pages, but ${free} PG_buddy pages`);
  if (free + allocated !== mem.ramPages)
    rc.out.push(`page allocator: ${free} free + ${allocated} allocated != ${mem.ramPages} RAM pages`);
  if (mem.allocCount - mem.freeCount !== allocated)
    rc.out.push(
      `page allocator: ${mem.allocCount} allocs - ${mem.freeCount} frees != ${allocated} allocated`,
    );
}

function checkMemcgs(rc: Recount, charged: Map<number, number>): void {
  const { memcgs } = rc.kernel.mem;
  for (const cg of memcgs.all()) {
    const n = charged.get(cg.id) ?? 0;
    if (cg.usagePages !== n)
      rc.out.push(`memcg ${cg.name}: usage ${cg.usagePages}, but ${n} pages charged to it`);
  }
  for (const [id, n] of charged)
    if (memcgs.get(id) === undefined) rc.out.push(`${n} pages charged to memcg ${id}, which does not exist`);
}

/** Every live table is reachable from some mm (free_pgtables leaks nothing). */
function checkTablePool(rc: Recount): void {
  const live = rc.kernel.pt.live;
  if (live !== rc.tables.size)
    rc.out.push(`page tables: ${live} live in the pool, ${rc.tables.size} reachable from an mm`);
}
