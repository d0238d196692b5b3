/**
 * mremap: shrink a mapping in place, grow it in place when the range after it is free, or move it
 * (MREMAP_MAYMOVE) — to an address of the caller's choosing with MREMAP_FIXED (unmapping what is
 * there first), keeping the old range mapped but empty with MREMAP_DONTUNMAP (v5.7+).
 *
 * A move copies the VMA (copy_vma: same anon_vma chain, vm_pgoff chosen so that every page's
 * ->index lands at its new address, which keeps rmap right without touching a page), then moves
 * the page-table entries as they are (move_page_tables) inside one MMU_NOTIFY_UNMAP invalidation of
 * the old range, so a mirror drops its copies; present pages, device-private and migration entries
 * all move with their PTE and keep their rss, mapcount and references. Finally the old range is
 * unmapped (do_munmap), which finds no pages left there.
 *
 * Not modelled: mlock population of a grown range, VM_ACCOUNT charges, userfaultfd, soft-dirty
 * marking of moved entries, old_len 0 (duplicating a shared mapping), hugetlb VMAs (-EINVAL here),
 * the PMD/PUD-level table moves (the result is the same entries at the same addresses).
 *
 * @see mm/mremap.c (Linux v6.19; v5.3 where `kernel.behaviour` says so)
 */

import { isPageAligned, PAGE_SIZE, PMD_SIZE, pageAlignUp, TASK_SIZE } from '../core/addr.js';
import { EFAULT, EINVAL, ENOMEM } from '../core/errno.js';
import type { Task } from '../sched/index.js';
import { splitHugePmdsIn } from './huge_memory.js';
import type { MmStruct } from './mm.js';
import { doMunmap, getUnmappedArea, vmaMergeAround } from './mmap.js';
import {
  MMU_NOTIFY_UNMAP,
  mmuNotifierInvalidateRangeEnd,
  mmuNotifierInvalidateRangeStart,
  notifierRange,
} from './mmu_notifier.js';
import { pteSlotIn } from './pagetable.js';
import { pteNone } from './pte.js';
import { linkAnonChain, unlinkAnonChain } from './rmap.js';
import type { Vma } from './vma.js';
import { VM_DONTEXPAND, VM_HUGETLB, VM_LOCKED, VM_PFNMAP, Vma as VmaClass } from './vma.js';

/** The area may move if it cannot grow in place. */
export const MREMAP_MAYMOVE = 1;
/** Move to exactly `newAddr` (requires MREMAP_MAYMOVE). */
export const MREMAP_FIXED = 2;
/** Move the pages but leave the old range mapped, empty (v5.7). */
export const MREMAP_DONTUNMAP = 4;

/** What one mremap call asks for (struct vma_remap_struct's user-provided part). */
interface Remap {
  addr: number;
  oldLen: number;
  newLen: number;
  readonly flags: number;
  newAddr: number;
}

/** sys_mremap: returns the mapping's (new) address, or -errno. Takes mmap_sem for write. */
export function* doMremap(
  mm: MmStruct,
  addr: number,
  oldLen: number,
  newLen: number,
  flags: number,
  newAddr = 0,
): Task<number> {
  const vrm: Remap = { addr, oldLen, newLen, flags, newAddr };
  const err = checkMremapParams(mm, vrm);
  if (err < 0) return err;
  vrm.oldLen = pageAlignUp(vrm.oldLen);
  vrm.newLen = pageAlignUp(vrm.newLen);
  yield* mm.mmapSem.downWrite();
  try {
    const r = yield* mremapLocked(mm, vrm);
    if (r >= 0) mm.kernel.counters.inc('mremap');
    return r;
  } finally {
    mm.mmapSem.upWrite();
  }
}

function* mremapLocked(mm: MmStruct, vrm: Remap): Task<number> {
  if (mm.kernel.behaviour.mremapVmaLookupFirst) {
    const vma = mm.vmaAt(vrm.addr);
    if (vma === null) return -EFAULT;
    if (vma.flags & VM_HUGETLB) return -EINVAL;
  }
  if (vrm.flags & (MREMAP_FIXED | MREMAP_DONTUNMAP)) return yield* mremapTo(mm, vrm);
  return yield* mremapAt(mm, vrm);
}

/** check_mremap_params: the checks that need no VMA. */
function checkMremapParams(mm: MmStruct, vrm: Remap): number {
  const known = MREMAP_FIXED | MREMAP_MAYMOVE | (mm.kernel.behaviour.mremapDontunmap ? MREMAP_DONTUNMAP : 0);
  const { flags } = vrm;
  if (flags & ~known || !isPageAligned(vrm.addr)) return -EINVAL;
  if (vrm.newLen > TASK_SIZE || pageAlignUp(vrm.newLen) === 0) return -EINVAL;
  if (vrm.oldLen > TASK_SIZE) return -EINVAL;
  if (!(flags & (MREMAP_FIXED | MREMAP_DONTUNMAP))) return 0;
  if (!isPageAligned(vrm.newAddr) || !(flags & MREMAP_MAYMOVE)) return -EINVAL;
  if (flags & MREMAP_DONTUNMAP && pageAlignUp(vrm.oldLen) !== pageAlignUp(vrm.newLen)) return -EINVAL;
  return 0;
}

/** mremap_at: resize where it is (shrink, or grow into free space), else move with MAYMOVE. */
function* mremapAt(mm: MmStruct, vrm: Remap): Task<number> {
  if (vrm.newLen === vrm.oldLen) return vrm.addr;
  if (vrm.newLen < vrm.oldLen) {
    const r = yield* doMunmap(mm, vrm.addr + vrm.newLen, vrm.oldLen - vrm.newLen);
    return r < 0 ? r : vrm.addr;
  }
  const vma = mm.vmaAt(vrm.addr);
  if (vma === null) return -EFAULT;
  const err = remapIsValid(vma, vrm);
  if (err < 0) return err;
  if (vma.end === vrm.addr + vrm.oldLen && vmaExpandable(mm, vma, vrm.newLen - vrm.oldLen)) {
    vma.end += vrm.newLen - vrm.oldLen;
    vmaMergeAround(mm, vma);
    return vrm.addr;
  }
  if (!(vrm.flags & MREMAP_MAYMOVE)) return -ENOMEM;
  const to = getUnmappedArea(mm, 0, vrm.newLen, false);
  if (to < 0) return to;
  vrm.newAddr = to;
  return yield* moveVma(mm, vma, vrm);
}

/** mremap_to: MREMAP_FIXED (unmap the destination first) or MREMAP_DONTUNMAP. */
function* mremapTo(mm: MmStruct, vrm: Remap): Task<number> {
  if (vrm.newLen > TASK_SIZE || vrm.newAddr > TASK_SIZE - vrm.newLen) return -EINVAL;
  if (vrm.addr + vrm.oldLen > vrm.newAddr && vrm.newAddr + vrm.newLen > vrm.addr) return -EINVAL;
  if (vrm.flags & MREMAP_FIXED) {
    const r = yield* doMunmap(mm, vrm.newAddr, vrm.newLen);
    if (r < 0) return r;
  }
  if (vrm.oldLen > vrm.newLen) {
    const r = yield* doMunmap(mm, vrm.addr + vrm.newLen, vrm.oldLen - vrm.newLen);
    if (r < 0) return r;
    vrm.oldLen = vrm.newLen;
  }
  const vma = mm.vmaAt(vrm.addr);
  if (vma === null) return -EFAULT;
  const err = remapIsValid(vma, vrm);
  if (err < 0) return err;
  const to = getUnmappedArea(mm, vrm.newAddr, vrm.newLen, (vrm.flags & MREMAP_FIXED) !== 0);
  if (to < 0) return to;
  vrm.newAddr = to;
  return yield* moveVma(mm, vma, vrm);
}

/** remap_is_valid (vma_to_resize in v5.3): may this VMA be moved or resized as asked? */
function remapIsValid(vma: Vma, vrm: Remap): number {
  if (vma.flags & VM_HUGETLB) return -EINVAL;
  // old_len 0 duplicates a shared mapping (and is refused for private ones since v6.7): not modelled.
  if (vrm.oldLen === 0) return -EINVAL;
  if (vrm.flags & MREMAP_DONTUNMAP && vma.flags & (VM_DONTEXPAND | VM_PFNMAP)) return -EINVAL;
  if (vrm.oldLen > vma.end - vrm.addr) return -EFAULT;
  if (vrm.newLen === vrm.oldLen) return 0;
  if (vma.flags & (VM_DONTEXPAND | VM_PFNMAP)) return -EFAULT;
  return 0;
}

/** vma_expandable: nothing is mapped in the `delta` bytes after the VMA, and they are user space. */
function vmaExpandable(mm: MmStruct, vma: Vma, delta: number): boolean {
  const end = vma.end + delta;
  if (end > TASK_SIZE) return false;
  const next = mm.findVma(vma.end);
  return next === null || next.start >= end;
}

/**
 * move_vma: copy the VMA to vrm.newAddr, move the page tables, then unmap the old range — or, with
 * MREMAP_DONTUNMAP, leave it mapped and empty (dontunmap_complete).
 */
function* moveVma(mm: MmStruct, vma: Vma, vrm: Remap): Task<number> {
  const { addr, oldLen, newAddr, newLen } = vrm;
  copyVma(mm, vma, addr, newAddr, newLen);
  yield* movePageTables(mm, addr, newAddr, oldLen);
  if (vrm.flags & MREMAP_DONTUNMAP) {
    dontunmapComplete(mm, addr, oldLen);
  } else {
    const r = yield* doMunmap(mm, addr, oldLen);
    if (r < 0) return r;
  }
  mm.kernel.counters.inc('mremap_move');
  return newAddr;
}

/**
 * copy_vma: the new VMA shares the old one's file, flags and anon_vma chain; its vm_pgoff is the
 * old page offset of `addr`, so page->index of every moved page maps to its new address. An
 * anonymous VMA that never faulted takes the new address as its offset (to merge more easily).
 */
function copyVma(mm: MmStruct, vma: Vma, addr: number, newAddr: number, newLen: number): void {
  const neverFaulted = vma.isAnonymous() && vma.anonVma === null;
  const pgoff = neverFaulted ? newAddr / PAGE_SIZE : vma.pgoff + (addr - vma.start) / PAGE_SIZE;
  const copy = new VmaClass(mm, newAddr, newAddr + newLen, vma.flags, pgoff, vma.file);
  copy.anonVma = vma.anonVma;
  copy.anonChain = [...vma.anonChain];
  linkAnonChain(copy);
  vma.file?.mmaps.add(copy);
  mm.insertVma(copy);
  vmaMergeAround(mm, copy);
}

/**
 * move_page_tables: every entry of [oldAddr, oldAddr+len) moves to the same offset from newAddr,
 * inside one MMU_NOTIFY_UNMAP invalidation of the old range. Entries are moved as they are: a
 * present page keeps its rmap, refcount and rss (same mm), and device-private and migration entries
 * go with their PTE.
 */
export function* movePageTables(mm: MmStruct, oldAddr: number, newAddr: number, len: number): Task {
  if (len === 0) return;
  const range = notifierRange(mm, oldAddr, oldAddr + len, MMU_NOTIFY_UNMAP);
  yield* mmuNotifierInvalidateRangeStart(range);
  const { pt } = mm.kernel;
  // move_huge_pmd is not modelled: huge PMDs of the old range move as 512 PTEs (docs/fidelity.md).
  splitHugePmdsIn(mm, oldAddr, oldAddr + len);
  pt.walk(mm.pgd, oldAddr, oldAddr + len, {
    present: (t, a, b) => {
      movePtes(mm, t, a, b, newAddr + (a - oldAddr));
      return 0;
    },
    hole: () => 0,
  });
  yield* mmuNotifierInvalidateRangeEnd(range);
}

/**
 * move_ptes over one PTE table's part of the old range. The destination may straddle two PTE tables
 * (the two ranges need not share an offset within a PMD); each is looked up, or allocated, once.
 */
function movePtes(mm: MmStruct, t: number, start: number, end: number, newStart: number): void {
  const { pt } = mm.kernel;
  const { lo: los, hi: his } = pt;
  const from = pteSlotIn(t, start);
  const n = (end - start) / PAGE_SIZE;
  let dstTable = 0;
  let dstEnd = 0;
  for (let i = 0; i < n; i++) {
    const lo = los[from + i] as number;
    const hi = his[from + i] as number;
    if (pteNone(lo, hi)) continue;
    const to = newStart + i * PAGE_SIZE;
    if (to >= dstEnd) {
      dstTable = pt.pteTableAlloc(mm.pgd, to);
      dstEnd = to - (to % PMD_SIZE) + PMD_SIZE;
    }
    pt.clear(from + i);
    pt.set(pteSlotIn(dstTable, to), lo, hi);
  }
}

/**
 * dontunmap_complete: the old VMA stays mapped, without the moved pages, and loses VM_LOCKED; one
 * moved whole loses its anon_vma links (unlink_anon_vmas), so its next fault starts a fresh one.
 */
function dontunmapComplete(mm: MmStruct, addr: number, len: number): void {
  const old = mm.vmaAt(addr);
  if (old === null) return;
  old.flags &= ~VM_LOCKED;
  if (old.start !== addr || old.end !== addr + len) return;
  unlinkAnonChain(old);
  old.anonVma = null;
  old.anonChain = [];
}
