/**
 * The page-table walk behind hmm_range_snapshot / hmm_range_fault: walk_page_range with HMM's
 * callbacks (hmm_vma_walk_hole, hmm_vma_walk_pmd → hmm_vma_handle_pte), the need-fault decision
 * and the fault loop (hmm_vma_walk_hole_ → hmm_vma_do_fault).
 *
 * Shape, as in v5.3:
 * - walk_page_range(start, end) covers a gap with no VMA (walk->vma NULL: every span is a hole)
 *   and then the VMA; each PMD-sized span is visited once: a hole (no PTE table, or a gap), or its
 *   PTE table, entry by entry.
 * - A hole writes values[NONE] over its span and sets `last` to the hole's START. A PTE table that
 *   is walked to its end sets `last` to the span's END; an entry that stops the walk sets `last`
 *   to its own address. `last` is what the callers' return value is computed from.
 * - When an entry needs a fault, everything from that entry (or from the hole's start) to the end
 *   of the span is overwritten with values[NONE] and faulted, page by page, with the read/write
 *   decision made for the first page; after the first successful fault the walk stops with -EBUSY
 *   and the caller walks again from `last`.
 *
 * The visitors of the pool's PMD-span walk (PageTablePool.walk) cannot sleep, and faults can: a
 * visitor that needs a fault (or a migration wait) records it and stops the walk with PENDING, and
 * the generator runs the slow path — exactly where the kernel's walk would have run it, since in
 * v5.3 the walk always ends right after it.
 *
 * Scheduling points: one before each PMD span (skipped when the caller is atomic, since snapshot
 * never sleeps in v5.3) and one before each handle_mm_fault.
 *
 * Divergences from v5.3 (see range.ts for the full list): zero page (v5.5), swap entries (v5.4),
 * PTE migration entries (v5.7), VM_WRITE check and no-VMA faults (v5.4); upper-level holes are
 * visited per PMD span; huge PMDs (THP, the huge zero page) take hmm_vma_handle_pmd; no PUD states.
 *
 * @see mm/hmm.c (Linux v5.3: hmm_vma_walk_hole_, hmm_pte_need_fault, hmm_range_need_fault,
 *      hmm_vma_walk_hole, hmm_vma_handle_pte, hmm_vma_walk_pmd, hmm_vma_do_fault),
 *      mm/pagewalk.c (walk_page_range)
 */

import { hex, PAGE_SIZE, pmdAddrEnd } from '../../core/addr.js';
import { EAGAIN, EBUSY, EFAULT, EPERM } from '../../core/errno.js';
import {
  doAnonymousPages,
  FAULT_FLAG_ALLOW_RETRY,
  FAULT_FLAG_REMOTE,
  FAULT_FLAG_WRITE,
  handleMmFault,
  VM_FAULT_ERROR,
  VM_FAULT_RETRY,
} from '../../mm/fault.js';
import type { MmStruct } from '../../mm/mm.js';
import { ZERO_PFN } from '../../mm/page.js';
import { type PteTableVisitor, pmdSubpage, pteSlotIn } from '../../mm/pagetable.js';
import {
  _PAGE_DEVMAP_HI,
  _PAGE_PRESENT,
  _PAGE_RW,
  _PAGE_SPECIAL,
  isDeviceExclusiveType,
  isDevicePrivateType,
  isMigrationType,
  pteDevmap,
  ptePfn,
  ptePresent,
  pteProtnone,
  pteSpecial,
  pteWrite,
  SWP_DEVICE_WRITE,
  SWP_SWAPFILE,
  swpType,
} from '../../mm/pte.js';
import type { Vma } from '../../mm/vma.js';
import { VM_WRITE } from '../../mm/vma.js';
import type { Task } from '../../sched/index.js';
import { current } from '../../sched/index.js';
import {
  HMM_PFN_DEVICE_PRIVATE,
  HMM_PFN_ERROR,
  HMM_PFN_NONE,
  HMM_PFN_SPECIAL,
  HMM_PFN_VALID,
  HMM_PFN_WRITE,
  lowBits,
} from './entry.js';
import type { HmmRange } from './types.js';

/** need-fault result bits (the kernel's `fault` and `write_fault` booleans). */
const NEED_FAULT = 1;
const NEED_WRITE = 2;

/** A visitor stopped the walk for a slow path (fault or migration wait) the generator must run. */
const PENDING = 1;
const PENDING_FAULT = 1;
const PENDING_MIGRATION_WAIT = 2;

/** struct hmm_vma_walk, plus what the model needs to run the slow paths outside the visitors. */
export class HmmVmaWalk {
  readonly range: HmmRange;
  readonly mm: MmStruct;
  /** walk->vma: null while a gap before the VMA is walked. */
  vma: Vma | null = null;
  last: number;
  /** false: snapshot (never fault). */
  fault: boolean;
  /** [5.3]: true = faults may sleep and keep mmap_sem; false = FAULT_FLAG_ALLOW_RETRY. */
  block: boolean;
  // the range's tables, read once per call
  readonly span: number;
  readonly fValid: number;
  readonly fWrite: number;
  readonly fDevicePrivate: number;
  readonly vNone: number;
  readonly vError: number;
  readonly vSpecial: number;
  readonly reqMask: number;
  readonly reqDefault: number;
  // the slow path a visitor asked for
  pending = 0;
  pendingAddr = 0;
  pendingEnd = 0;
  pendingNeed = 0;
  readonly visitor: PteTableVisitor;

  constructor(range: HmmRange, mm: MmStruct, fault: boolean, block: boolean) {
    this.range = range;
    this.mm = mm;
    this.last = range.start;
    this.fault = fault;
    this.block = block;
    const span = 2 ** range.pfnShift;
    this.span = span;
    this.fValid = range.flags[HMM_PFN_VALID] as number;
    this.fWrite = range.flags[HMM_PFN_WRITE] as number;
    this.fDevicePrivate = range.flags[HMM_PFN_DEVICE_PRIVATE] as number;
    this.vNone = range.values[HMM_PFN_NONE] as number;
    this.vError = range.values[HMM_PFN_ERROR] as number;
    this.vSpecial = range.values[HMM_PFN_SPECIAL] as number;
    this.reqMask = lowBits(range.pfnFlagsMask, span);
    this.reqDefault = lowBits(range.defaultFlags, span);
    this.visitor = {
      present: (t, a, b) => (this.vma === null ? walkHole(this, a, b) : walkPteTable(this, t, a, b)),
      hole: (a, b) => walkHole(this, a, b),
      huge: (slot, a, b) => (this.vma === null ? walkHole(this, a, b) : walkHugePmd(this, slot, a, b)),
    };
  }

  /** Index of addr's entry in range.pfns. */
  index(addr: number): number {
    return (addr - this.range.start) / PAGE_SIZE;
  }

  /** E(pfn) | cpuFlags. */
  entry(pfn: number, cpuFlags: number): number {
    return pfn * this.span + (this.fValid | cpuFlags);
  }
}

/**
 * walk_page_range(start, end) with HMM's callbacks: the part of [start, end) before the first VMA
 * is walked with no VMA (all holes), then the VMA. Returns 0 or the first error a callback
 * returned (-EBUSY after a fault, -EFAULT, -EPERM, -EAGAIN).
 */
export function* hmmWalkPageRange(w: HmmVmaWalk, start: number, end: number): Task<number> {
  const mm = w.mm;
  // walk_page_range: lockdep_assert_held(&walk.mm->mmap_sem) (mm/pagewalk.c, v5.3).
  mm.mmapSem.assertHeld('any');
  let i = mm.findVmaIndex(start);
  let err = 0;
  do {
    const vma = mm.vmas[i];
    let next: number;
    if (vma === undefined) {
      w.vma = null;
      next = end;
    } else if (start < vma.start) {
      w.vma = null;
      next = Math.min(end, vma.start);
    } else {
      w.vma = vma;
      next = Math.min(end, vma.end);
      i++;
    }
    err = yield* walkPmdSpans(w, start, next);
    if (err !== 0) break;
    start = next;
  } while (start < end);
  return err;
}

/** One PMD-sized span at a time, through the page-table pool's walk. */
function* walkPmdSpans(w: HmmVmaWalk, start: number, end: number): Task<number> {
  const { pt } = w.mm.kernel;
  for (let addr = start; addr < end; ) {
    const next = pmdAddrEnd(addr, end);
    if (!current().atomic) yield `hmm_vma_walk ${hex(addr)}`;
    let r = pt.walk(w.mm.pgd, addr, next, w.visitor);
    if (r === PENDING) r = yield* runPending(w);
    if (r !== 0) return r;
    addr = next;
  }
  return 0;
}

function* runPending(w: HmmVmaWalk): Task<number> {
  const kind = w.pending;
  w.pending = 0;
  if (kind === PENDING_FAULT) return yield* walkHoleFault(w, w.pendingAddr, w.pendingEnd, w.pendingNeed);
  // PENDING_MIGRATION_WAIT (v5.7): migration_entry_wait, then -EBUSY so the walk restarts at `last`.
  // The fault path does the wait (do_swap_page → wait on the page lock); nothing ran since the
  // visitor read the entry, so it still finds the migration entry.
  const vma = w.vma as Vma;
  w.mm.kernel.counters.inc('hmm_migration_wait');
  yield* handleMmFault(w.mm, vma, w.pendingAddr, FAULT_FLAG_REMOTE);
  return -EBUSY;
}

/**
 * hmm_pte_need_fault: folds page `pfnIn`'s request against the CPU flags into `need` (assignments
 * exactly as the kernel makes them). Snapshot: never.
 */
function pteNeedFault(w: HmmVmaWalk, pfnIn: number, cpuFlags: number, need: number): number {
  if (!w.fault) return need;
  const req = (lowBits(pfnIn, w.span) & w.reqMask) | w.reqDefault;
  // Not asked for anything.
  if ((req & w.fValid) === 0) return need;
  // Device memory: fault only if the request itself asks for DEVICE_PRIVATE.
  if ((cpuFlags & w.fDevicePrivate) !== 0) {
    if ((req & w.fDevicePrivate) !== 0) return NEED_FAULT | ((req & w.fWrite) !== 0 ? NEED_WRITE : 0);
    return need;
  }
  let fault = (cpuFlags & w.fValid) === 0;
  let write = (need & NEED_WRITE) !== 0;
  if ((req & w.fWrite) !== 0 && (cpuFlags & w.fWrite) === 0) {
    write = true;
    fault = true;
  }
  return (fault ? NEED_FAULT : 0) | (write ? NEED_WRITE : 0);
}

/** hmm_range_need_fault: combined over npages entries from pfns[i]; stops at the first write. */
function rangeNeedFault(w: HmmVmaWalk, i: number, npages: number, cpuFlags: number): number {
  if (!w.fault) return 0;
  const pfns = w.range.pfns;
  let need = 0;
  for (let k = 0; k < npages; k++) {
    need = pteNeedFault(w, pfns[i + k] as number, cpuFlags, need);
    if (need & NEED_WRITE) return need;
  }
  return need;
}

/** hmm_vma_walk_hole: no PTE table (or no VMA) over [addr, end). */
function walkHole(w: HmmVmaWalk, addr: number, end: number): number {
  const need = rangeNeedFault(w, w.index(addr), (end - addr) / PAGE_SIZE, 0);
  return walkHole_(w, addr, end, need);
}

/**
 * hmm_vma_walk_hole_, the part that cannot sleep: `last` = addr; without a fault the entries become
 * NONE; with one, the generator takes over (walkHoleFault).
 */
function walkHole_(w: HmmVmaWalk, addr: number, end: number, need: number): number {
  w.last = addr;
  if (need !== 0) {
    w.pending = PENDING_FAULT;
    w.pendingAddr = addr;
    w.pendingEnd = end;
    w.pendingNeed = need;
    return PENDING;
  }
  const pfns = w.range.pfns;
  for (let i = w.index(addr); addr < end; addr += PAGE_SIZE, i++) pfns[i] = w.vNone;
  return 0;
}

/**
 * hmm_vma_walk_hole_ with a fault: every page of [addr, end) becomes NONE and is faulted with the
 * same read/write decision; -EBUSY once all faulted (walk again), or the first fault's error.
 *
 * A run of pages whose fault is a first touch of anonymous memory is faulted in one step
 * (doAnonymousPages: each page exactly as handle_mm_fault would, each counted), with one scheduling
 * point before the run, as MADV_POPULATE has one per span, instead of one per page; every other
 * page keeps its own. What the explorer gives up: a thread that zaps or invalidates part of the
 * run (under mmap_sem for read, as the walk holds it) runs before the run or after it, not between
 * two of its pages; either way the range's notifier sees the invalidation and the caller retries.
 */
function* walkHoleFault(w: HmmVmaWalk, addr: number, end: number, need: number): Task<number> {
  const write = (need & NEED_WRITE) !== 0;
  const vma = w.vma;
  // v5.4 fix: a write fault in a VMA without VM_WRITE is -EPERM (v5.3 faulted forever).
  if (write && vma !== null && (vma.flags & VM_WRITE) === 0) return -EPERM;
  const pfns = w.range.pfns;
  let i = w.index(addr);
  // v5.4 fix: no VMA here (a gap); v5.3 called handle_mm_fault with a NULL vma.
  if (vma === null) {
    pfns[i] = w.vError;
    return -EFAULT;
  }
  const flags = FAULT_FLAG_REMOTE | (w.block ? 0 : FAULT_FLAG_ALLOW_RETRY) | (write ? FAULT_FLAG_WRITE : 0);
  const counters = w.mm.kernel.counters;
  while (addr < end) {
    yield `hmm_vma_do_fault ${hex(addr)}`;
    const n = doAnonymousPages(w.mm, vma, addr, end, flags);
    if (n > 0) {
      for (let k = 0; k < n; k++) pfns[i + k] = w.vNone;
      counters.inc('hmm_fault', n);
      addr += n * PAGE_SIZE;
      i += n;
      continue;
    }
    pfns[i] = w.vNone;
    const ret = yield* hmmVmaDoFault(w, vma, addr, flags, i);
    if (ret !== -EBUSY) return ret;
    addr += PAGE_SIZE;
    i++;
  }
  return -EBUSY;
}

/** hmm_vma_do_fault, after its scheduling point: -EBUSY after a successful fault, -EFAULT (entry ERROR) or -EAGAIN. */
function* hmmVmaDoFault(w: HmmVmaWalk, vma: Vma, addr: number, flags: number, i: number): Task<number> {
  w.mm.kernel.counters.inc('hmm_fault');
  const ret = yield* handleMmFault(w.mm, vma, addr, flags);
  // handle_mm_fault dropped mmap_sem (only with ALLOW_RETRY). This model's never does.
  if (ret & VM_FAULT_RETRY) return -EAGAIN;
  if (ret & VM_FAULT_ERROR) {
    w.range.pfns[i] = w.vError;
    return -EFAULT;
  }
  return -EBUSY;
}

/**
 * hmm_vma_walk_pmd for a PMD whose PTE table exists: one entry at a time. The common entry — a
 * present, ordinary PTE (not PROTNONE, special or devmap) that needs no fault — is written here
 * with the arithmetic handlePte would do; every other entry goes through handlePte.
 */
function walkPteTable(w: HmmVmaWalk, t: number, start: number, end: number): number {
  const { lo, hi } = w.mm.kernel.pt;
  const pfns = w.range.pfns;
  const span = w.span;
  const ro = w.fValid;
  const rw = w.fValid | w.fWrite;
  // A fault-mode request that is the same for every page (no per-page bits) is decided once for a
  // read-only and once for a writable PTE; per-page requests go through handlePte.
  const uniform = !w.fault || w.reqMask === 0;
  const needRo = uniform ? pteNeedFault(w, 0, ro, 0) : 1;
  const needRw = uniform ? pteNeedFault(w, 0, rw, 0) : 1;
  let slot = pteSlotIn(t, start);
  let i = w.index(start);
  let addr = start;
  for (; addr < end; addr += PAGE_SIZE, slot++, i++) {
    const l = lo[slot] as number;
    const h = hi[slot] as number;
    if ((l & ORDINARY_MASK) === _PAGE_PRESENT && (h & _PAGE_DEVMAP_HI) === 0) {
      const writable = (l & _PAGE_RW) !== 0;
      if ((writable ? needRw : needRo) === 0) {
        pfns[i] = ptePfn(l, h) * span + (writable ? rw : ro);
        continue;
      }
    }
    const r = handlePte(w, addr, end, slot, i);
    if (r !== 0) {
      w.last = addr;
      return r;
    }
  }
  w.last = addr;
  return 0;
}

/**
 * hmm_vma_walk_pmd → hmm_vma_handle_pmd (v5.3) for a huge PMD: one set of CPU flags for the whole
 * span (pmd_to_hmm_pfn_flags: none for PROT_NONE, else VALID and WRITE by the PMD's write bit);
 * if any page needs a fault the span goes to hmm_vma_walk_hole_, else every page gets its
 * subpage's pfn and `last` is the span's end. The huge zero page is not special-cased in v5.3: it
 * is reported as read-only pfns.
 */
function walkHugePmd(w: HmmVmaWalk, slot: number, start: number, end: number): number {
  const { pt } = w.mm.kernel;
  const lo = pt.lo[slot] as number;
  const cpuFlags = pteProtnone(lo) ? 0 : pteWrite(lo) ? w.fValid | w.fWrite : w.fValid;
  const need = rangeNeedFault(w, w.index(start), (end - start) / PAGE_SIZE, cpuFlags);
  if (pteProtnone(lo) || need !== 0) return walkHole_(w, start, end, need);
  const pfns = w.range.pfns;
  let pfn = ptePfn(lo, pt.hi[slot] as number) + pmdSubpage(start);
  for (let i = w.index(start), a = start; a < end; a += PAGE_SIZE, i++, pfn++)
    pfns[i] = w.entry(pfn, cpuFlags);
  w.last = end;
  return 0;
}

/** Present, not special (PROTNONE needs P clear): the bits that make a PTE ordinary. */
const ORDINARY_MASK = _PAGE_PRESENT | _PAGE_SPECIAL;

/** hmm_vma_handle_pte: one CPU entry → one device entry (docs/kernel-hmm.md §2.8). */
function handlePte(w: HmmVmaWalk, addr: number, end: number, slot: number, i: number): number {
  const { pt } = w.mm.kernel;
  const lo = pt.lo[slot] as number;
  const hi = pt.hi[slot] as number;
  const pfns = w.range.pfns;
  const orig = pfns[i] as number;
  pfns[i] = w.vNone;

  if (lo === 0 && hi === 0) {
    const need = pteNeedFault(w, orig, 0, 0);
    return need !== 0 ? walkHole_(w, addr, end, need) : 0;
  }

  if (!ptePresent(lo)) {
    const type = swpType(lo);
    if (type === SWP_SWAPFILE) {
      // A page swapped out. v5.4 fix: faulted when requested (v5.3 never did, and said NONE).
      const need = pteNeedFault(w, orig, 0, 0);
      return need !== 0 ? walkHole_(w, addr, end, need) : 0;
    }
    if (isDeviceExclusiveType(type)) {
      // v5.14+ entries the seed never saw: like today's hmm_vma_handle_pte, not present unless a
      // fault is requested, and then the fault restores the PTE (docs/fidelity.md).
      const need = pteNeedFault(w, orig, 0, 0);
      return need !== 0 ? walkHole_(w, addr, end, need) : 0;
    }
    if (isDevicePrivateType(type)) {
      // Any device's page (no owner in this era): reported, faulted only if DP is requested.
      const cpuFlags = w.fValid | w.fDevicePrivate | (type === SWP_DEVICE_WRITE ? w.fWrite : 0);
      const need = pteNeedFault(w, orig, cpuFlags, 0);
      if (need !== 0) return walkHole_(w, addr, end, need);
      pfns[i] = w.entry(ptePfn(lo, hi), cpuFlags);
      return 0;
    }
    if (isMigrationType(type)) {
      // v5.7 fix: when requested, wait for the migration and walk again (v5.3 said NONE).
      if (pteNeedFault(w, orig, 0, 0) === 0) return 0;
      w.last = addr;
      w.pending = PENDING_MIGRATION_WAIT;
      w.pendingAddr = addr;
      return PENDING;
    }
    // hwpoison and anything else.
    pfns[i] = w.vError;
    return -EFAULT;
  }

  // [5.3]: a PROTNONE entry has no CPU flags (any request faults); E() still carries VALID.
  const cpuFlags = pteProtnone(lo) ? 0 : pteWrite(lo) ? w.fValid | w.fWrite : w.fValid;
  const need = pteNeedFault(w, orig, cpuFlags, 0);
  if (need !== 0) return walkHole_(w, addr, end, need);
  const pfn = ptePfn(lo, hi);
  if (pteDevmap(hi)) {
    // get_dev_pagemap: the device memory is going away; walk again.
    if (w.mm.kernel.mem.store.pgmapOf(pfn) === undefined) return -EBUSY;
  } else if (pteSpecial(lo) && pfn !== ZERO_PFN) {
    // v5.5 fix: the zero page is a normal read-only pfn (v5.3 said SPECIAL and -EFAULT for it too).
    pfns[i] = w.vSpecial;
    return -EFAULT;
  }
  pfns[i] = w.entry(pfn, cpuFlags);
  return 0;
}

/** hmm_pfns_clear: values[NONE] over [addr, end). */
export function hmmPfnsClear(range: HmmRange, addr: number, end: number): void {
  const none = range.values[HMM_PFN_NONE] as number;
  for (let i = (addr - range.start) / PAGE_SIZE; addr < end; addr += PAGE_SIZE, i++) range.pfns[i] = none;
}
