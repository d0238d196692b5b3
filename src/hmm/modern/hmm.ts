/**
 * Today's hmm_range_fault: fill `range.hmmPfns` with what the CPU maps over [start, end), faulting
 * what the requests ask for, under an mmu interval notifier's sequence count.
 *
 * ## The hmm_pfns encoding
 * The kernel's entry is an unsigned long with 11 flag bits at the top (63..53) and the pfn below. A
 * JS number holds integers exactly only up to 2^53, so the model moves the 11 flag bits down by 11,
 * to bits 52..42, and keeps the pfn in bits 0..41 (the model's pfns are below 2^40). Entries are
 * safe integers in a Float64Array; flag and pfn fields never overlap, so `pfn + HMM_PFN_VALID` is
 * `pfn | HMM_PFN_VALID`.
 *
 *   kernel bit   63    62    61      60        59       58       57..53       52..0
 *   model bit    52    51    50      49        48       47       46..42       41..0
 *              +-----+-----+-----+----------+------+----------+-----------+-------------+
 *              |VALID|WRITE|ERROR|DMA_MAPPED|P2PDMA|P2PDMA_BUS| map order |     pfn     |
 *              +-----+-----+-----+----------+------+----------+-----------+-------------+
 *   hi word (entry / 2^32, a u32): VALID 20, WRITE 19, ERROR 18, DMA_MAPPED 17, P2PDMA 16,
 *   P2PDMA_BUS 15, map order 10..14, pfn bits 32..41 at 0..9
 *
 * JS bitwise operators are 32-bit, so flag tests go through the hi word (`hmmPfnTest`), as pte.ts
 * splits a PTE into lo and hi words. On input, REQ_FAULT is the VALID bit and REQ_WRITE the WRITE
 * bit; DMA_MAPPED, P2PDMA and P2PDMA_BUS are sticky: every output keeps them from the input.
 *
 * ## What the walk does (v6.19)
 * hmm_range_fault loops: if `mmu_interval_check_retry` fires, return -EBUSY; else walk_page_range
 * from `last` (the range start at first) to the end. A walk callback that faults runs
 * handle_mm_fault on every page from the first one needing it to the end of that callback's span
 * (hmm_vma_fault), sets `last` there and returns -EBUSY, so the loop re-checks the sequence and walks
 * again from `last`: on -EBUSY every entry before `last` holds its output and every later one still
 * holds its input. mmap_lock is held for read by the caller throughout; nothing here drops it.
 *
 *   CPU state                          not requested                requested
 *   no VMA                             ERROR                        -EFAULT
 *   VMA without VM_READ, VM_IO/PFNMAP  ERROR (whole VMA part)       -EFAULT
 *   none PTE / PMD / upper hole        0                            fault the span, walk again
 *   present PTE                        pfn | VALID (| WRITE)        write wanted on RO → fault
 *   zero page                          pfn | VALID                  write wanted → fault (COW)
 *   other special PTE                  ERROR                        -EFAULT
 *   PROT_NONE PTE / huge PMD           pfn, no flags                fault
 *   huge PMD                           pfn | VALID (| WRITE) | order 9
 *   hugetlb                            pfn | flags | order 9 (the request of its first page decides)
 *   own device-private (owner ==)      pfn | VALID (| WRITE)        never faulted
 *   other device-private, swap,        0                            fault (migrate_to_ram, swapin,
 *   device-exclusive                                                restore)
 *   migration entry                    0                            wait, walk again from it
 *   hwpoison and other entries         0                            -EFAULT
 *
 * ## Model notes
 * - The walk yields (a scheduling point) before each PMD-sized span and before each handle_mm_fault,
 *   so an invalidation can run in the middle of a walk, as one can on another CPU.
 * - -EINVAL: v6.19 returns it for start >= end (walk_page_range); the model also returns it for a
 *   start or end that is not page aligned (the kernel walks such a range; the model's page-indexed
 *   array cannot).
 * - No PUD leaves exist in the mm core, so hmm_vma_walk_pud always descends (its order-18 output
 *   cannot occur); pmd_bad and pgd_bad entries do not exist either. -ENOMEM is documented by
 *   hmm.h but v6.19 never returns it (VM_FAULT_OOM is -EFAULT), nor does the model.
 * - uffd-wp and guard markers do not exist (no userfaultfd, no MADV_GUARD_INSTALL).
 *
 * @see mm/hmm.c, include/linux/hmm.h, mm/pagewalk.c (Linux v6.19; read in linux-mm/linux-mm at
 *      0a1e70b48f45 and gregkh/linux at 5c40cd7db64a, taking v6.19's in-walk hmm_vma_fault, not the
 *      later hmm_record_fault)
 */

import { alignDown, hex, PAGE_SIZE, PMD_SIZE, pgdAddrEnd, pmdAddrEnd, pudAddrEnd } from '../../core/addr.js';
import { KernelBug, KernelWarning } from '../../core/assert.js';
import { ArgumentError, EBUSY, EFAULT, EINVAL, EPERM } from '../../core/errno.js';
import {
  doAnonymousPages,
  FAULT_FLAG_REMOTE,
  FAULT_FLAG_WRITE,
  handleMmFault,
  VM_FAULT_ERROR,
} from '../../mm/fault.js';
import type { MmStruct } from '../../mm/mm.js';
import { type MmuIntervalNotifier, mmuIntervalCheckRetry } from '../../mm/mmu_interval_notifier.js';
import { HPAGE_PMD_ORDER, ZERO_PFN } from '../../mm/page.js';
import { LEVEL_PGD, LEVEL_PMD, LEVEL_PUD, pmdSubpage, pteSlotIn } from '../../mm/pagetable.js';
import {
  _PAGE_PRESENT,
  _PAGE_PROTNONE,
  _PAGE_PSE,
  _PAGE_RW,
  _PAGE_SPECIAL,
  isDeviceExclusiveType,
  isDevicePrivateType,
  isMigrationType,
  pmdHuge,
  pteNone,
  ptePfn,
  SWP_DEVICE_WRITE,
  SWP_SWAPFILE,
  swpType,
} from '../../mm/pte.js';
import type { Vma } from '../../mm/vma.js';
import { VM_HUGETLB, VM_IO, VM_PFNMAP, VM_READ, VM_WRITE } from '../../mm/vma.js';
import type { Task } from '../../sched/index.js';

// -- include/linux/hmm.h ----------------------------------------------------------------------------

/** Output: the pfn is valid and at least readable. Input: HMM_PFN_REQ_FAULT. Kernel bit 63. */
export const HMM_PFN_VALID = 2 ** 52;
/** Output: the page may be written. Input: HMM_PFN_REQ_WRITE. Kernel bit 62. */
export const HMM_PFN_WRITE = 2 ** 51;
/** Output: the device must fail accesses here (no VMA, special page, ...). Kernel bit 61. */
export const HMM_PFN_ERROR = 2 ** 50;
/** Sticky: the page is DMA mapped (hmm_dma_map_pfn); carried from input to output. Kernel bit 60. */
export const HMM_PFN_DMA_MAPPED = 2 ** 49;
/** Sticky: a P2P page. Kernel bit 59. */
export const HMM_PFN_P2PDMA = 2 ** 48;
/** Sticky: a bus-mapped P2P transfer. Kernel bit 58. */
export const HMM_PFN_P2PDMA_BUS = 2 ** 47;
/** Shift of the 5-bit map-order field (kernel: BITS_PER_LONG - 11 = 53). */
export const HMM_PFN_ORDER_SHIFT = 42;
/** Input: the output must have HMM_PFN_VALID or hmm_range_fault fails. */
export const HMM_PFN_REQ_FAULT = HMM_PFN_VALID;
/** Input: the output must have HMM_PFN_WRITE; only together with HMM_PFN_REQ_FAULT. */
export const HMM_PFN_REQ_WRITE = HMM_PFN_WRITE;
/** Every flag and field bit above the pfn (kernel: ~((1UL << HMM_PFN_ORDER_SHIFT) - 1)). */
export const HMM_PFN_FLAGS = 2 ** 53 - 2 ** HMM_PFN_ORDER_SHIFT;
/** The flags carried from input to output (mm/hmm.c's HMM_PFN_INOUT_FLAGS). */
export const HMM_PFN_INOUT_FLAGS = HMM_PFN_DMA_MAPPED + HMM_PFN_P2PDMA + HMM_PFN_P2PDMA_BUS;
/** How long a driver retries an -EBUSY range before giving up, in milliseconds. */
export const HMM_RANGE_DEFAULT_TIMEOUT = 1000;

/** struct hmm_range: what to walk, under which notifier, and the array in and out. */
export interface HmmRange {
  /** The interval notifier covering [start, end); its mm is the one walked. */
  notifier: MmuIntervalNotifier;
  /** mmu_interval_read_begin's result for `notifier`. */
  notifierSeq: number;
  /** First address (inclusive), page aligned. */
  start: number;
  /** Last address (exclusive), page aligned. */
  end: number;
  /** One entry per page: requests in, results out (the encoding above). */
  hmmPfns: Float64Array;
  /** Requests OR-ed into every entry's. */
  defaultFlags: number;
  /** Which bits of each entry's own value count as its request. */
  pfnFlagsMask: number;
  /** Device-private pages whose pgmap owner is this are reported, never faulted. */
  devPrivateOwner: unknown;
}

const HI = 2 ** 32;
const PFN_SPAN = 2 ** HMM_PFN_ORDER_SHIFT;
const VALID_HI = 1 << 20;
const WRITE_HI = 1 << 19;
const ERROR_HI = 1 << 18;
const INOUT_HI = 7 << 15;
const ORDER_HI_SHIFT = HMM_PFN_ORDER_SHIFT - 32;
const REQ_HI = VALID_HI | WRITE_HI;

/** Bits 32..52 of an entry as a u32 (entries are below 2^53, so the quotient fits). */
function hiWord(e: number): number {
  return (e / HI) >>> 0;
}

/** The pfn field of an entry (hmm_pfn_to_page's `hmm_pfn & ~HMM_PFN_FLAGS`). */
export function hmmPfnToPfn(hmmPfn: number): number {
  return hmmPfn % PFN_SPAN;
}

/** hmm_pfn_to_page: the page an entry names; the model's struct pages are their pfns. */
export function hmmPfnToPage(hmmPfn: number): number {
  return hmmPfn % PFN_SPAN;
}

/** hmm_pfn_to_map_order: the order of the CPU mapping the page sits in (0, or 9 for a PMD). */
export function hmmPfnToMapOrder(hmmPfn: number): number {
  return (hiWord(hmmPfn) >>> ORDER_HI_SHIFT) & 0x1f;
}

/** The flag and order bits of an entry (`hmm_pfn & HMM_PFN_FLAGS`). */
export function hmmPfnFlags(hmmPfn: number): number {
  return hmmPfn - (hmmPfn % PFN_SPAN);
}

/** `(hmm_pfn & flag) != 0` for flags above bit 31, where JS bitwise operators do not reach. */
export function hmmPfnTest(hmmPfn: number, flag: number): boolean {
  return (hiWord(hmmPfn) & hiWord(flag)) !== 0;
}

/** hmm_pfn_flags_order: the map-order field for `order`, as a hi word. */
function orderHi(order: number): number {
  return order << ORDER_HI_SHIFT;
}

// -- mm/hmm.c ---------------------------------------------------------------------------------------

const HMM_NEED_FAULT = 1;
const HMM_NEED_WRITE_FAULT = 2;
const HMM_NEED_ALL_BITS = HMM_NEED_FAULT | HMM_NEED_WRITE_FAULT;

/** A PTE callback's request to the generator around it: fault, or wait on a migration entry. */
const PENDING = 1;

/** struct hmm_vma_walk plus the walk's own state (struct mm_walk) and the range's requests. */
class HmmVmaWalk {
  readonly range: HmmRange;
  readonly mm: MmStruct;
  readonly pfns: Float64Array;
  last: number;
  /** walk->vma: null over a gap with no VMA. */
  vma: Vma | null = null;
  /** hmm_range_need_fault's shortcut: some page may ask for a fault. */
  readonly mayFault: boolean;
  /** The request bits of pfn_flags_mask and default_flags, as hi words. */
  readonly maskHi: number;
  readonly defaultHi: number;
  /** What a PTE callback left for the generator: hmm_vma_fault's arguments, or a page to wait on. */
  readonly pending = { addr: 0, end: 0, required: 0, waitPfn: -1 };

  constructor(range: HmmRange, mm: MmStruct) {
    this.range = range;
    this.mm = mm;
    this.pfns = range.hmmPfns;
    this.last = range.start;
    this.maskHi = hiWord(range.pfnFlagsMask) & REQ_HI;
    this.defaultHi = hiWord(range.defaultFlags) & REQ_HI;
    this.mayFault = ((this.maskHi | this.defaultHi) & VALID_HI) !== 0;
  }

  index(addr: number): number {
    return (addr - this.range.start) / PAGE_SIZE;
  }

  /** `*hmm_pfn = (*hmm_pfn & HMM_PFN_INOUT_FLAGS) | pfn | cpu_flags`. */
  set(i: number, pfn: number, cpuHi: number): void {
    this.pfns[i] = ((hiWord(this.pfns[i] as number) & INOUT_HI) | cpuHi) * HI + pfn;
  }
}

/**
 * hmm_pte_need_fault: what page's request (its entry, masked, plus the defaults) needs given the CPU
 * flags. REQ_WRITE without REQ_FAULT asks for nothing.
 */
function hmmPteNeedFault(w: HmmVmaWalk, pfnReqFlags: number, cpuHi: number): number {
  const req = (hiWord(pfnReqFlags) & w.maskHi) | w.defaultHi;
  if ((req & VALID_HI) === 0) return 0;
  if ((req & WRITE_HI) !== 0 && (cpuHi & WRITE_HI) === 0) return HMM_NEED_FAULT | HMM_NEED_WRITE_FAULT;
  if ((cpuHi & VALID_HI) === 0) return HMM_NEED_FAULT;
  return 0;
}

/** hmm_range_need_fault: the OR over npages entries from index i, stopping once both bits are set. */
function hmmRangeNeedFault(w: HmmVmaWalk, i: number, npages: number, cpuHi: number): number {
  if (!w.mayFault) return 0;
  let required = 0;
  for (let k = 0; k < npages; k++) {
    required |= hmmPteNeedFault(w, w.pfns[i + k] as number, cpuHi);
    if (required === HMM_NEED_ALL_BITS) return required;
  }
  return required;
}

/** hmm_pfns_fill: every entry of [addr, end) becomes its sticky bits | cpu flags. */
function hmmPfnsFill(w: HmmVmaWalk, addr: number, end: number, cpuHi: number): number {
  for (let i = w.index(addr); addr < end; addr += PAGE_SIZE, i++) w.set(i, 0, cpuHi);
  return 0;
}

/**
 * hmm_vma_fault: handle_mm_fault on every page of [addr, end) (FAULT_FLAG_REMOTE, plus WRITE if a
 * write is needed: -EPERM in a VMA without VM_WRITE), then -EBUSY so the walk restarts at addr;
 * -EFAULT at the first fault that fails.
 */
function* hmmVmaFault(w: HmmVmaWalk, addr: number, end: number, required: number): Task<number> {
  const vma = w.vma as Vma;
  if (required === 0) throw new KernelWarning('WARN_ON_ONCE(!required_fault) in hmm_vma_fault');
  w.last = addr;
  let flags = FAULT_FLAG_REMOTE;
  if (required & HMM_NEED_WRITE_FAULT) {
    if ((vma.flags & VM_WRITE) === 0) return -EPERM;
    flags |= FAULT_FLAG_WRITE;
  }
  while (addr < end) {
    yield `hmm_vma_fault ${hex(addr)}`;
    // a run of first touches of anonymous memory in one step (see seed/walk.ts walkHoleFault)
    const n = doAnonymousPages(w.mm, vma, addr, end, flags);
    if (n > 0) {
      addr += n * PAGE_SIZE;
      continue;
    }
    if ((yield* handleMmFault(w.mm, vma, addr, flags)) & VM_FAULT_ERROR) return -EFAULT;
    addr += PAGE_SIZE;
  }
  return -EBUSY;
}

/** hmm_vma_walk_hole (pte_hole): no page table, or a gap with no VMA, over [addr, end). */
function* hmmVmaWalkHole(w: HmmVmaWalk, addr: number, end: number): Task<number> {
  const required = hmmRangeNeedFault(w, w.index(addr), (end - addr) / PAGE_SIZE, 0);
  if (w.vma === null) return required !== 0 ? -EFAULT : hmmPfnsFill(w, addr, end, ERROR_HI);
  if (required !== 0) return yield* hmmVmaFault(w, addr, end, required);
  return hmmPfnsFill(w, addr, end, 0);
}

/** pmd_to_hmm_pfn_flags: none for PROT_NONE, else VALID (| WRITE) with map order 9. */
function pmdToHmmPfnFlags(lo: number): number {
  if ((lo & (_PAGE_PRESENT | _PAGE_PROTNONE)) === _PAGE_PROTNONE) return 0;
  return ((lo & _PAGE_RW) !== 0 ? VALID_HI | WRITE_HI : VALID_HI) | orderHi(HPAGE_PMD_ORDER);
}

/** pte_to_hmm_pfn_flags: none for a none, non-present or PROT_NONE entry. */
function pteToHmmPfnFlags(lo: number): number {
  if ((lo & _PAGE_PRESENT) === 0) return 0;
  return (lo & _PAGE_RW) !== 0 ? VALID_HI | WRITE_HI : VALID_HI;
}

/** hmm_vma_handle_pmd: a huge PMD (THP or the huge zero page) over [addr, end). */
function* hmmVmaHandlePmd(w: HmmVmaWalk, slot: number, addr: number, end: number): Task<number> {
  const { lo, hi } = w.mm.kernel.pt;
  const l = lo[slot] as number;
  const cpuHi = pmdToHmmPfnFlags(l);
  const required = hmmRangeNeedFault(w, w.index(addr), (end - addr) / PAGE_SIZE, cpuHi);
  if (required !== 0) return yield* hmmVmaFault(w, addr, end, required);
  let pfn = ptePfn(l, hi[slot] as number) + pmdSubpage(addr);
  for (let i = w.index(addr); addr < end; addr += PAGE_SIZE, i++, pfn++) w.set(i, pfn, cpuHi);
  return 0;
}

/** page_pgmap(page)->owner == range->dev_private_owner (NULL equals NULL, as in C). */
function ownDevicePrivate(w: HmmVmaWalk, pfn: number): boolean {
  const pgmap = w.mm.kernel.mem.store.pgmapOf(pfn);
  if (pgmap === undefined) throw new KernelBug(`hmm: device-private entry for pfn ${pfn} without a pgmap`);
  return (pgmap.owner ?? null) === (w.range.devPrivateOwner ?? null);
}

/**
 * hmm_vma_handle_absent_pmd (v6.19): a non-present PMD that is not a migration entry. This device's
 * private THP is reported with order 9; another's is faulted when requested; anything else is
 * -EFAULT when requested, ERROR when not.
 */
function* hmmVmaHandleAbsentPmd(w: HmmVmaWalk, slot: number, start: number, end: number): Task<number> {
  const l = w.mm.kernel.pt.lo[slot] as number;
  const type = swpType(l);
  const pfn0 = ptePfn(l, w.mm.kernel.pt.hi[slot] as number);
  if (isDevicePrivateType(type) && ownDevicePrivate(w, pfn0)) {
    const cpuHi = VALID_HI | orderHi(HPAGE_PMD_ORDER) | (type === SWP_DEVICE_WRITE ? WRITE_HI : 0);
    let pfn = pfn0 + pmdSubpage(start);
    for (let i = w.index(start), a = start; a < end; a += PAGE_SIZE, i++, pfn++) w.set(i, pfn, cpuHi);
    return 0;
  }
  const required = hmmRangeNeedFault(w, w.index(start), (end - start) / PAGE_SIZE, 0);
  if (required !== 0)
    return isDevicePrivateType(type) ? yield* hmmVmaFault(w, start, end, required) : -EFAULT;
  return hmmPfnsFill(w, start, end, ERROR_HI);
}

/**
 * migration_entry_wait / pmd_migration_entry_wait: sleep until the migration holding the page
 * locked is over. Nothing ran since the walk read the entry, so it is still there (the kernel
 * re-reads it under the page-table lock).
 */
function* migrationEntryWait(w: HmmVmaWalk, pfn: number): Task {
  w.mm.kernel.counters.inc('hmm_migration_wait');
  yield* w.mm.kernel.mem.waitOnPageLocked(pfn);
}

/** hmm_vma_walk_pmd: one PMD entry's span [start, end). */
function* hmmVmaWalkPmd(w: HmmVmaWalk, slot: number, start: number, end: number): Task<number> {
  const { pt } = w.mm.kernel;
  const lo = pt.lo[slot] as number;
  const hi = pt.hi[slot] as number;
  if (pteNone(lo, hi)) return yield* hmmVmaWalkHole(w, start, end);
  if ((lo & (_PAGE_PRESENT | _PAGE_PROTNONE | _PAGE_PSE)) === 0) {
    if (!isMigrationType(swpType(lo))) return yield* hmmVmaHandleAbsentPmd(w, slot, start, end);
    if (hmmRangeNeedFault(w, w.index(start), (end - start) / PAGE_SIZE, 0) === 0)
      return hmmPfnsFill(w, start, end, 0);
    w.last = start;
    yield* migrationEntryWait(w, ptePfn(lo, hi));
    return -EBUSY;
  }
  if (pmdHuge(lo)) return yield* hmmVmaHandlePmd(w, slot, start, end);
  return yield* hmmWalkPteTable(w, pt.child(slot), start, end);
}

/**
 * The PTE loop of hmm_vma_walk_pmd. hmm_vma_handle_pte cannot sleep here (no generator per entry):
 * when an entry needs a fault or a migration wait it records it and stops with PENDING, and this
 * generator runs it, which is where the kernel's callback would have run it before returning.
 */
function* hmmWalkPteTable(w: HmmVmaWalk, table: number, start: number, end: number): Task<number> {
  let r = hmmVmaHandlePtes(w, table, start, end);
  if (r !== PENDING) return r;
  const p = w.pending;
  if (p.waitPfn >= 0) {
    const pfn = p.waitPfn;
    p.waitPfn = -1;
    yield* migrationEntryWait(w, pfn);
    return -EBUSY;
  }
  r = yield* hmmVmaFault(w, p.addr, p.end, p.required);
  return r;
}

/** Present, not special, not PROT_NONE: a PTE whose output is just its pfn and RW bit. */
const ORDINARY_MASK = _PAGE_PRESENT | _PAGE_SPECIAL;

/**
 * hmm_vma_handle_pte over [start, end) of PTE table `table`. The common entry — present, ordinary,
 * needing no fault — is written inline; the rest go through hmmVmaHandlePte.
 */
function hmmVmaHandlePtes(w: HmmVmaWalk, table: number, start: number, end: number): number {
  const { lo, hi } = w.mm.kernel.pt;
  const pfns = w.pfns;
  // With no per-page request bits the need depends only on the CPU flags: decide it twice.
  const uniform = w.maskHi === 0;
  const needRo = uniform ? hmmPteNeedFault(w, 0, VALID_HI) : 1;
  const needRw = uniform ? hmmPteNeedFault(w, 0, VALID_HI | WRITE_HI) : 1;
  let slot = pteSlotIn(table, start);
  for (let i = w.index(start), addr = start; addr < end; addr += PAGE_SIZE, slot++, i++) {
    const l = lo[slot] as number;
    if ((l & ORDINARY_MASK) === _PAGE_PRESENT) {
      const rw = (l & _PAGE_RW) !== 0;
      if ((rw ? needRw : needRo) === 0) {
        const sticky = hiWord(pfns[i] as number) & INOUT_HI;
        pfns[i] = (sticky | (rw ? VALID_HI | WRITE_HI : VALID_HI)) * HI + ptePfn(l, hi[slot] as number);
        continue;
      }
    }
    const r = hmmVmaHandlePte(w, addr, end, slot, i);
    if (r !== 0) return r;
  }
  return 0;
}

/** The `fault:` exit of hmm_vma_handle_pte: hmm_vma_fault(addr, end) once the generator runs it. */
function pendingFault(w: HmmVmaWalk, addr: number, end: number, required: number): number {
  w.pending.addr = addr;
  w.pending.end = end;
  w.pending.required = required;
  return PENDING;
}

/**
 * Non-present entries other than this device's private pages: faulted when requested if swap,
 * another device's private page or a device-exclusive entry (v6.1+: the fault restores it), waited
 * on if a migration entry, else -EFAULT (hwpoison).
 */
function faultableSoftleaf(type: number): boolean {
  return type === SWP_SWAPFILE || isDevicePrivateType(type) || isDeviceExclusiveType(type);
}

/** hmm_vma_handle_pte for a non-present, non-none entry. */
function hmmVmaHandleSoftleaf(w: HmmVmaWalk, addr: number, end: number, slot: number, i: number): number {
  const { pt } = w.mm.kernel;
  const type = swpType(pt.lo[slot] as number);
  const pfn = ptePfn(pt.lo[slot] as number, pt.hi[slot] as number);
  if (isDevicePrivateType(type) && ownDevicePrivate(w, pfn)) {
    w.set(i, pfn, type === SWP_DEVICE_WRITE ? VALID_HI | WRITE_HI : VALID_HI);
    return 0;
  }
  const required = hmmPteNeedFault(w, w.pfns[i] as number, 0);
  if (required === 0) {
    w.set(i, 0, 0);
    return 0;
  }
  if (faultableSoftleaf(type)) return pendingFault(w, addr, end, required);
  if (isMigrationType(type)) {
    w.last = addr;
    w.pending.waitPfn = pfn;
    return PENDING;
  }
  return -EFAULT;
}

/** hmm_vma_handle_pte: one PTE at addr (entry i), in a PMD span ending at `end`. */
function hmmVmaHandlePte(w: HmmVmaWalk, addr: number, end: number, slot: number, i: number): number {
  const lo = w.mm.kernel.pt.lo[slot] as number;
  const hi = w.mm.kernel.pt.hi[slot] as number;
  const req = w.pfns[i] as number;
  if (pteNone(lo, hi)) {
    const required = hmmPteNeedFault(w, req, 0);
    if (required !== 0) return pendingFault(w, addr, end, required);
    w.set(i, 0, 0);
    return 0;
  }
  if ((lo & (_PAGE_PRESENT | _PAGE_PROTNONE)) === 0) return hmmVmaHandleSoftleaf(w, addr, end, slot, i);
  const cpuHi = pteToHmmPfnFlags(lo);
  const required = hmmPteNeedFault(w, req, cpuHi);
  if (required !== 0) return pendingFault(w, addr, end, required);
  const pfn = ptePfn(lo, hi);
  // !vm_normal_page && !is_zero_pfn: a special PTE other than the zero page has no page to report.
  if ((lo & _PAGE_SPECIAL) !== 0 && pfn !== ZERO_PFN) {
    if (hmmPteNeedFault(w, req, 0) !== 0) return -EFAULT;
    w.set(i, 0, ERROR_HI);
    return 0;
  }
  w.set(i, pfn, cpuHi);
  return 0;
}

/**
 * hmm_vma_walk_hugetlb_entry: one huge page's PMD entry over [start, end). The request of the
 * span's first page alone decides the fault, and a none entry not faulted reports pfn 0 plus the
 * offset with the order field, as the kernel computes it.
 */
function* hmmVmaWalkHugetlbEntry(w: HmmVmaWalk, slot: number, start: number, end: number): Task<number> {
  const { pt } = w.mm.kernel;
  const lo = pt.lo[slot] as number;
  let i = w.index(start);
  const cpuHi = pteToHmmPfnFlags(lo) | orderHi(HPAGE_PMD_ORDER);
  const required = hmmPteNeedFault(w, w.pfns[i] as number, cpuHi);
  if (required !== 0) return yield* hmmVmaFault(w, start, end, required);
  let pfn = ptePfn(lo, pt.hi[slot] as number) + pmdSubpage(start);
  for (let a = start; a < end; a += PAGE_SIZE, i++, pfn++) w.set(i, pfn, cpuHi);
  return 0;
}

/** walk_hugetlb_range: huge page by huge page; no PMD table (huge_pte_offset NULL) is a hole. */
function* walkHugetlbRange(w: HmmVmaWalk, addr: number, end: number): Task<number> {
  const { pt } = w.mm.kernel;
  for (let next = 0; addr < end; addr = next) {
    next = Math.min(alignDown(addr, PMD_SIZE) + PMD_SIZE, end);
    yield `hmm_vma_walk_hugetlb ${hex(addr)}`;
    const slot = pt.pmdSlot(w.mm.pgd, addr);
    const err =
      slot < 0 ? yield* hmmVmaWalkHole(w, addr, next) : yield* hmmVmaWalkHugetlbEntry(w, slot, addr, next);
    if (err !== 0) return err;
  }
  return 0;
}

/** walk_pmd_range: each PMD entry's span is a hole (none) or goes to hmm_vma_walk_pmd. */
function* walkPmdRange(w: HmmVmaWalk, table: number, addr: number, end: number): Task<number> {
  const { pt } = w.mm.kernel;
  for (let next = 0; addr < end; addr = next) {
    next = pmdAddrEnd(addr, end);
    yield `hmm_vma_walk_pmd ${hex(addr)}`;
    const err = yield* hmmVmaWalkPmd(w, pt.slotOf(table, LEVEL_PMD, addr), addr, next);
    if (err !== 0) return err;
  }
  return 0;
}

/**
 * walk_pgd_range / walk_pud_range (the p4d level is folded): a none entry is one hole over its
 * whole span. hmm_vma_walk_pud finds no PUD leaf in this core, so the PUD level always descends.
 */
function* walkUpperRange(
  w: HmmVmaWalk,
  table: number,
  level: number,
  addr: number,
  end: number,
): Task<number> {
  const { pt } = w.mm.kernel;
  const pgd = level === LEVEL_PGD;
  for (let next = 0; addr < end; addr = next) {
    next = pgd ? pgdAddrEnd(addr, end) : pudAddrEnd(addr, end);
    const child = pt.child(pt.slotOf(table, level, addr));
    let err: number;
    if (child === 0) err = yield* hmmVmaWalkHole(w, addr, next);
    else if (pgd) err = yield* walkUpperRange(w, child, LEVEL_PUD, addr, next);
    else err = yield* walkPmdRange(w, child, addr, next);
    if (err !== 0) return err;
  }
  return 0;
}

/**
 * hmm_vma_walk_test: a VMA without VM_READ, or a VM_IO / VM_PFNMAP one, is not walked: -EFAULT if a
 * fault is requested anywhere in [start, end), else ERROR over it and 1 (skip to the next VMA).
 */
function hmmVmaWalkTest(w: HmmVmaWalk, vma: Vma, start: number, end: number): number {
  if ((vma.flags & (VM_IO | VM_PFNMAP)) === 0 && (vma.flags & VM_READ) !== 0) return 0;
  if (hmmRangeNeedFault(w, w.index(start), (end - start) / PAGE_SIZE, 0) !== 0) return -EFAULT;
  hmmPfnsFill(w, start, end, ERROR_HI);
  return 1;
}

/** __walk_page_range over the part [start, end) of the VMA being walked. */
function walkVma(w: HmmVmaWalk, vma: Vma, start: number, end: number): Task<number> {
  return (vma.flags & VM_HUGETLB) !== 0
    ? walkHugetlbRange(w, start, end)
    : walkUpperRange(w, w.mm.pgd, LEVEL_PGD, start, end);
}

/**
 * walk_page_range with hmm_walk_ops: gaps before, between and after VMAs are holes with no VMA;
 * each VMA part is tested, then walked. The first non-zero callback result is returned.
 */
function* walkPageRange(w: HmmVmaWalk, start: number, end: number): Task<number> {
  if (start >= end || start % PAGE_SIZE !== 0 || end % PAGE_SIZE !== 0) return -EINVAL;
  const mm = w.mm;
  let vma = mm.findVma(start);
  let err = 0;
  do {
    let next: number;
    if (vma === null || start < vma.start) {
      w.vma = null;
      next = vma === null ? end : Math.min(end, vma.start);
      err = yield* hmmVmaWalkHole(w, start, next);
    } else {
      w.vma = vma;
      next = Math.min(end, vma.end);
      const cur = vma;
      vma = mm.findVma(vma.end);
      err = hmmVmaWalkTest(w, cur, start, next);
      if (err > 0) err = 0;
      else if (err === 0) err = yield* walkVma(w, cur, start, next);
    }
    if (err !== 0) break;
    start = next;
  } while (start < end);
  return err;
}

function checkRange(range: HmmRange): MmStruct {
  for (const k of ['start', 'end', 'defaultFlags', 'pfnFlagsMask'] as const) {
    const v = range[k];
    if (!Number.isSafeInteger(v) || v < 0)
      throw new ArgumentError(`range.${k}`, `expected an unsigned integer, got ${v}`);
  }
  if (!(range.hmmPfns instanceof Float64Array))
    throw new ArgumentError('range.hmmPfns', 'expected a Float64Array');
  const npages = Math.ceil(Math.max(0, range.end - range.start) / PAGE_SIZE);
  if (range.hmmPfns.length < npages)
    throw new ArgumentError(
      'range.hmmPfns',
      `needs one entry per page (${npages}), has ${range.hmmPfns.length}`,
    );
  const mm = range.notifier?.mm ?? null;
  if (mm === null)
    throw new KernelBug('BUG: hmm_range_fault: range->notifier->mm is NULL (notifier not inserted)');
  return mm;
}

/**
 * hmm_range_fault: 0, or -EINVAL (start >= end, or not page aligned), -EPERM (a write needed in a
 * VMA without VM_WRITE), -EBUSY (the notifier's sequence moved: call mmu_interval_read_begin and
 * retry), -EFAULT (a requested page cannot be made valid). The caller holds mmap_lock for read (or
 * write) and still holds it on return.
 */
export function* hmmRangeFault(range: HmmRange): Task<number> {
  const mm = checkRange(range);
  mm.mmapSem.assertHeld('any');
  const w = new HmmVmaWalk(range, mm);
  let ret: number;
  do {
    // If the range is no longer valid, force a retry.
    if (mmuIntervalCheckRetry(range.notifier, range.notifierSeq)) return -EBUSY;
    ret = yield* walkPageRange(w, w.last, range.end);
    // On -EBUSY, entries before `last` hold outputs and the rest still hold inputs.
  } while (ret === -EBUSY);
  return ret;
}
