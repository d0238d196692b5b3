/**
 * mmap, munmap and exit_mmap: creating VMAs (with get_unmapped_area's top-down search), splitting
 * and merging them, and tearing mappings down with the notifiers, zap and free_pgtables in the
 * order unmap_region uses.
 *
 * @see mm/mmap.c (Linux v5.3)
 */

import {
  alignUp,
  isPageAligned,
  MMAP_BASE,
  MMAP_MIN_ADDR,
  PAGE_SIZE,
  PMD_SIZE,
  pageAlignDown,
  pageAlignUp,
  TASK_SIZE,
  USER_PGTABLES_CEILING,
} from '../core/addr.js';
import { EINVAL, ENOMEM } from '../core/errno.js';
import type { Task } from '../sched/index.js';
import type { AddressSpace } from './file.js';
import { mmPutHugeZeroPage, vmaAdjustTransHuge } from './huge_memory.js';
import { hugetlbReservePages, hugetlbSplitAllowed, hugetlbVmOpClose } from './hugetlb.js';
import { zapRange } from './memory.js';
import type { MmStruct } from './mm.js';
import { mmHooks } from './mm.js';
import {
  MMU_NOTIFY_UNMAP,
  mmuNotifierInvalidateRangeEnd,
  mmuNotifierInvalidateRangeStart,
  mmuNotifierRelease,
  notifierRange,
} from './mmu_notifier.js';
import { linkAnonChain, unlinkAnonChain } from './rmap.js';
import {
  VM_DONTEXPAND,
  VM_EXEC,
  VM_HUGETLB,
  VM_LOCKED,
  VM_MAYEXEC,
  VM_MAYREAD,
  VM_MAYSHARE,
  VM_MAYWRITE,
  VM_READ,
  VM_SHARED,
  VM_WRITE,
  Vma,
  vmAreaAlloc,
  vmAreaFree,
} from './vma.js';

/** No access: any touch is a SegvError. */
export const PROT_NONE = 0x0;
/** Pages may be read. */
export const PROT_READ = 0x1;
/** Pages may be written. */
export const PROT_WRITE = 0x2;
/** Pages may be executed. */
export const PROT_EXEC = 0x4;
/** Every PROT_* bit the model accepts; any other bit is EINVAL. */
export const PROT_MASK = PROT_READ | PROT_WRITE | PROT_EXEC;

/** Writes reach the file (or shared anonymous memory) and every other mapping of it. */
export const MAP_SHARED = 0x01;
/** Copy-on-write: writes stay in this mapping. */
export const MAP_PRIVATE = 0x02;
/** Map exactly at `addr`, replacing whatever was there. */
export const MAP_FIXED = 0x10;
/** Not backed by a file: zero-filled memory. */
export const MAP_ANONYMOUS = 0x20;
/** mlock the mapping (VM_LOCKED): its pages stay resident. */
export const MAP_LOCKED = 0x2000;
/** Fault every page in at mmap time. */
export const MAP_POPULATE = 0x8000;
/** Back the mapping with 2 MiB hugetlb pages (hugetlb.ts). */
export const MAP_HUGETLB = 0x40000;
/** Every MAP_* bit the model accepts; any other bit is EINVAL. */
export const MAP_FLAGS_MASK =
  MAP_SHARED | MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS | MAP_LOCKED | MAP_POPULATE | MAP_HUGETLB;

/** calc_vm_prot_bits. */
export function calcVmProtBits(prot: number): number {
  return (
    (prot & PROT_READ ? VM_READ : 0) | (prot & PROT_WRITE ? VM_WRITE : 0) | (prot & PROT_EXEC ? VM_EXEC : 0)
  );
}

/** The arguments of mmap(2) as do_mmap takes them. @see mm/mmap.c (do_mmap) */
export interface MmapRequest {
  /** Hint address, or the exact address with MAP_FIXED; 0 lets the kernel choose. */
  addr: number;
  /** Length in bytes; rounded up to whole pages. */
  len: number;
  /** PROT_READ | PROT_WRITE | PROT_EXEC bits. */
  prot: number;
  /** MAP_SHARED or MAP_PRIVATE, with MAP_ANONYMOUS, MAP_FIXED, MAP_POPULATE, ... */
  flags: number;
  /** The file to map (ignored with MAP_ANONYMOUS). */
  file: AddressSpace | null;
  /** Offset in bytes, page aligned. */
  offset: number;
}

/**
 * do_mmap_pgoff with mmap_sem held for write: returns the address, or -errno. MAP_SHARED |
 * MAP_ANONYMOUS gets a fresh shmem inode (shmem_zero_setup). MAP_POPULATE is left to the caller,
 * which faults the range in after dropping the lock, as vm_mmap_pgoff does.
 */
export function* doMmap(mm: MmStruct, req: MmapRequest): Task<number> {
  mm.mmapSem.assertHeld('write');
  const err = checkMmapArgs(req);
  if (err !== 0) return err;
  const huge = (req.flags & MAP_HUGETLB) !== 0;
  const len = huge ? alignUp(req.len, PMD_SIZE) : pageAlignUp(req.len);
  const addr = huge
    ? hugetlbUnmappedArea(mm, req, len)
    : getUnmappedArea(mm, req.addr, len, (req.flags & MAP_FIXED) !== 0);
  if (addr < 0) return addr;
  // hugetlb_file_setup reserves before the mapping replaces anything (hugetlb_acct_memory).
  if (huge && !mm.kernel.hugetlb.canReserve(len / PMD_SIZE)) return -ENOMEM;
  if (req.flags & MAP_FIXED) {
    const r = yield* doMunmap(mm, addr, len);
    if (r < 0) return r;
  }
  const vmFlags = vmFlagsOf(req);
  let file = req.flags & MAP_ANONYMOUS ? null : req.file;
  let pgoff = file === null ? addr / PAGE_SIZE : req.offset / PAGE_SIZE;
  if (req.flags & MAP_SHARED && req.flags & MAP_ANONYMOUS) {
    file = mm.kernel.newAddressSpace(`/dev/zero (deleted)`, len, true, mm.memcgId);
    file.unlinked = true;
    pgoff = 0;
  }
  const vma = vmAreaAlloc(mm.kernel.slab, new Vma(mm, addr, addr + len, vmFlags, pgoff, file), 'mmap_region');
  if (huge && !hugetlbReservePages(mm, vma)) return -ENOMEM;
  file?.mmaps.add(vma);
  mm.insertVma(vma);
  vmaMergeAround(mm, vma);
  mm.kernel.counters.inc('mmap');
  return addr;
}

function checkMmapArgs(req: MmapRequest): number {
  const { len, prot, flags } = req;
  if (len <= 0 || len > TASK_SIZE) return len <= 0 ? -EINVAL : -ENOMEM;
  if ((prot & ~PROT_MASK) !== 0 || (flags & ~MAP_FLAGS_MASK) !== 0) return -EINVAL;
  const type = flags & (MAP_SHARED | MAP_PRIVATE);
  if (type !== MAP_SHARED && type !== MAP_PRIVATE) return -EINVAL;
  if (!isPageAligned(req.offset) || req.offset < 0) return -EINVAL;
  if (flags & MAP_FIXED && !isPageAligned(req.addr)) return -EINVAL;
  if (!(flags & MAP_ANONYMOUS) && req.file === null) return -EINVAL;
  // hugetlbfs: private anonymous only here (see hugetlb.ts).
  if (flags & MAP_HUGETLB && (type !== MAP_PRIVATE || !(flags & MAP_ANONYMOUS))) return -EINVAL;
  if (flags & MAP_HUGETLB && flags & MAP_FIXED && req.addr % PMD_SIZE !== 0) return -EINVAL;
  return 0;
}

function vmFlagsOf(req: MmapRequest): number {
  let f = calcVmProtBits(req.prot) | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC;
  if (req.flags & MAP_SHARED) f |= VM_SHARED | VM_MAYSHARE;
  if (req.flags & MAP_LOCKED) f |= VM_LOCKED;
  if (req.flags & MAP_HUGETLB) f |= VM_HUGETLB | VM_DONTEXPAND;
  return f;
}

/**
 * hugetlb_get_unmapped_area: a 2 MiB aligned area (MAP_FIXED: the address, already checked
 * aligned). The top-down search is asked for 2 MiB more and the start rounded up inside it.
 */
function hugetlbUnmappedArea(mm: MmStruct, req: MmapRequest, len: number): number {
  if (req.flags & MAP_FIXED) return getUnmappedArea(mm, req.addr, len, true);
  if (req.addr !== 0 && req.addr % PMD_SIZE === 0) {
    const a = getUnmappedArea(mm, req.addr, len, false);
    if (a === req.addr) return a;
  }
  const a = getUnmappedArea(mm, 0, len + PMD_SIZE, false);
  return a < 0 ? a : alignUp(a, PMD_SIZE);
}

/**
 * get_unmapped_area: MAP_FIXED takes `addr` as is; a free, page-aligned hint is honoured; otherwise
 * the highest gap below mmap_base that fits (arch_get_unmapped_area_topdown).
 */
export function getUnmappedArea(mm: MmStruct, hint: number, len: number, fixed: boolean): number {
  if (len > TASK_SIZE) return -ENOMEM;
  if (fixed) return hint >= MMAP_MIN_ADDR && hint + len <= TASK_SIZE ? hint : -ENOMEM;
  if (hint !== 0) {
    // round_hint_to_min, then x86-64's addr &= PAGE_MASK.
    const a = Math.max(pageAlignDown(hint), MMAP_MIN_ADDR);
    if (a + len <= TASK_SIZE && isFree(mm, a, a + len)) return a;
  }
  let gapEnd = MMAP_BASE;
  const i = mm.findVmaIndex(gapEnd);
  const straddler = mm.vmas[i];
  if (straddler !== undefined && straddler.start < gapEnd) gapEnd = straddler.start;
  for (let j = i - 1; j >= -1; j--) {
    const below = mm.vmas[j];
    const gapStart = below === undefined ? MMAP_MIN_ADDR : below.end;
    if (gapEnd - gapStart >= len) return gapEnd - len;
    if (below === undefined) break;
    gapEnd = below.start;
  }
  return -ENOMEM;
}

function isFree(mm: MmStruct, start: number, end: number): boolean {
  const vma = mm.findVma(start);
  return vma === null || vma.start >= end;
}

/** __split_vma: splits `vma` at `addr`; returns the part above addr (the original keeps the rest). */
export function splitVma(mm: MmStruct, vma: Vma, addr: number): Vma {
  vmaAdjustTransHuge(mm, addr);
  const pgoff = vma.pgoff + (addr - vma.start) / PAGE_SIZE;
  const upper = vmAreaAlloc(
    mm.kernel.slab,
    new Vma(mm, addr, vma.end, vma.flags, pgoff, vma.file),
    '__split_vma',
  );
  upper.anonVma = vma.anonVma;
  upper.anonChain = [...vma.anonChain];
  upper.hugetlbResv = vma.hugetlbResv;
  linkAnonChain(upper);
  vma.file?.mmaps.add(upper);
  vma.end = addr;
  mm.insertVma(upper);
  return upper;
}

/** vma_merge, reduced to "merge with the neighbours if they are compatible". */
export function vmaMergeAround(mm: MmStruct, vma: Vma): Vma {
  let cur = vma;
  const i = mm.vmas.indexOf(cur);
  const next = mm.vmas[i + 1];
  if (next !== undefined && cur.canMergeWith(next)) absorb(mm, cur, next);
  const prev = mm.vmas[i - 1];
  if (prev?.canMergeWith(cur)) {
    absorb(mm, prev, cur);
    cur = prev;
  }
  return cur;
}

function absorb(mm: MmStruct, into: Vma, from: Vma): void {
  into.end = from.end;
  if (into.anonVma === null && from.anonVma !== null) {
    into.anonVma = from.anonVma;
    into.anonChain = [...from.anonChain];
    linkAnonChain(into);
  }
  detachVma(mm, from);
}

function detachVma(mm: MmStruct, vma: Vma): void {
  mm.removeVma(vma);
  unlinkAnonChain(vma);
  vma.file?.mmaps.delete(vma);
}

/** The last mapping of an unlinked shmem inode is gone: its pages go with it (the final iput). */
function releaseFile(mm: MmStruct, vmas: Vma[]): void {
  for (const v of vmas) {
    const f = v.file;
    if (f?.unlinked && f.mmaps.size === 0 && mm.kernel.mappings.has(f.id)) {
      f.evict(mm.kernel.mem);
      mm.kernel.mappings.delete(f.id);
    }
  }
}

/** Splits VMAs so that `start` and `end` fall on VMA boundaries; returns the VMAs inside. */
export function isolateRange(mm: MmStruct, start: number, end: number): Vma[] {
  const first = mm.findVma(start);
  if (first !== null && first.start < start && first.end > start) splitVma(mm, first, start);
  const last = mm.findVma(end - 1);
  if (last !== null && last.start < end && last.end > end) splitVma(mm, last, end);
  const out: Vma[] = [];
  for (let i = mm.findVmaIndex(start); i < mm.vmas.length; i++) {
    const v = mm.vmas[i] as Vma;
    if (v.start >= end) break;
    out.push(v);
  }
  return out;
}

/** do_munmap with mmap_sem held for write. */
export function* doMunmap(mm: MmStruct, start: number, len: number): Task<number> {
  mm.mmapSem.assertHeld('write');
  if (!isPageAligned(start) || start > TASK_SIZE || len > TASK_SIZE - start) return -EINVAL;
  len = pageAlignUp(len);
  if (len === 0) return -EINVAL;
  const end = start + len;
  if (!hugetlbSplitAllowed(mm, start, end)) return -EINVAL;
  const vmas = isolateRange(mm, start, end);
  if (vmas.length === 0) return 0;
  const idx = mm.vmas.indexOf(vmas[0] as Vma);
  const prev = mm.vmas[idx - 1];
  const next = mm.vmas[idx + vmas.length];
  for (const v of vmas) detachVma(mm, v);
  yield* unmapRegion(mm, vmas, start, end, prev?.end ?? 0, next?.start ?? USER_PGTABLES_CEILING);
  releaseFile(mm, vmas);
  freeVmas(mm, vmas);
  mm.kernel.counters.inc('munmap');
  return 0;
}

/** unmap_region: invalidate, zap every VMA's part, then free the page tables nobody else covers. */
function* unmapRegion(
  mm: MmStruct,
  vmas: Vma[],
  start: number,
  end: number,
  floor: number,
  ceiling: number,
): Task {
  const range = notifierRange(mm, start, end, MMU_NOTIFY_UNMAP);
  yield* mmuNotifierInvalidateRangeStart(range);
  for (const v of vmas) zapRange(mm, Math.max(start, v.start), Math.min(end, v.end));
  yield* mmuNotifierInvalidateRangeEnd(range);
  mm.kernel.pt.freeRange(mm.pgd, start, end, floor, ceiling);
  // remove_vma → vm_ops->close (hugetlb_vm_op_close gives unused reservations back), then
  // vm_area_free: nothing may use these VMAs any more.
  for (const v of vmas) hugetlbVmOpClose(mm, v);
}

/** remove_vma's vm_area_free of every VMA unmapped, once their files are released too. */
function freeVmas(mm: MmStruct, vmas: Vma[]): void {
  for (const v of vmas) vmAreaFree(mm.kernel.slab, v);
}

/** exit_mmap: notifiers are released first, then every mapping is torn down and the tables freed. */
export function* exitMmap(mm: MmStruct): Task {
  yield* mmuNotifierRelease(mm);
  const vmas = [...mm.vmas];
  for (const v of vmas) detachVma(mm, v);
  // no VMA, no unmap_vmas and so no UNMAP invalidation ("Can happen if dup_mmap() received an OOM")
  if (vmas.length > 0) yield* unmapRegion(mm, vmas, 0, TASK_SIZE, 0, USER_PGTABLES_CEILING);
  releaseFile(mm, vmas);
  freeVmas(mm, vmas);
  mmPutHugeZeroPage(mm);
  mm.dead = true;
  mm.kernel.counters.inc('exit_mmap');
}

mmHooks.exitMmap = exitMmap;
