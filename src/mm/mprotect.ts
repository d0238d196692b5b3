/**
 * mprotect: change the protection of [start, start+len), splitting VMAs at the edges, merging
 * them afterwards, and rewriting the PTEs under an invalidation (change_protection).
 *
 * @see mm/mprotect.c (Linux v5.3)
 */

import { isPageAligned, pageAlignUp } from '../core/addr.js';
import { EACCES, EINVAL, ENOMEM } from '../core/errno.js';
import type { Task } from '../sched/index.js';
import { hugetlbSplitAllowed } from './hugetlb.js';
import { changeProtection } from './memory.js';
import type { MmStruct } from './mm.js';
import { calcVmProtBits, isolateRange, PROT_MASK, vmaMergeAround } from './mmap.js';
import { VM_EXEC, VM_READ, VM_WRITE } from './vma.js';

const VM_ACCESS = VM_READ | VM_WRITE | VM_EXEC;

/** do_mprotect_pkey: takes mmap_sem for write. */
export function* doMprotect(mm: MmStruct, start: number, len: number, prot: number): Task<number> {
  if (!isPageAligned(start)) return -EINVAL;
  if (len === 0) return 0;
  len = pageAlignUp(len);
  const end = start + len;
  if (end <= start) return -ENOMEM;
  if ((prot & ~PROT_MASK) !== 0) return -EINVAL;
  yield* mm.mmapSem.downWrite();
  try {
    return yield* mprotectLocked(mm, start, end, prot);
  } finally {
    mm.mmapSem.upWrite();
  }
}

/**
 * The do_mprotect_pkey loop: the first VMA must cover `start`; each VMA in turn is checked against
 * its VM_MAY* bits (-EACCES) and changed; a hole met on the way ends the loop with -ENOMEM, leaving
 * the VMAs before it changed, as in the kernel.
 */
function* mprotectLocked(mm: MmStruct, start: number, end: number, prot: number): Task<number> {
  const want = calcVmProtBits(prot);
  if (!hugetlbSplitAllowed(mm, start, end)) return -EINVAL;
  const first = mm.findVma(start);
  if (first === null || first.start > start) return -ENOMEM;
  let addr = start;
  let ret = 0;
  while (addr < end) {
    const vma = mm.findVma(addr);
    if (vma === null || vma.start > addr) {
      ret = -ENOMEM;
      break;
    }
    if (want & ~(vma.flags >> 4) & VM_ACCESS) {
      ret = -EACCES;
      break;
    }
    const next = Math.min(end, vma.end);
    yield* mprotectFixup(mm, addr, next, want);
    addr = next;
  }
  mm.kernel.counters.inc('mprotect');
  return ret;
}

/** mprotect_fixup: split at the edges, set the flags, rewrite the PTEs, then merge. */
function* mprotectFixup(mm: MmStruct, start: number, end: number, want: number): Task {
  const [vma] = isolateRange(mm, start, end);
  if (vma === undefined) return;
  const newFlags = (vma.flags & ~VM_ACCESS) | want;
  if (newFlags !== vma.flags) {
    vma.flags = newFlags;
    yield* changeProtection(mm, vma, vma.start, vma.end);
  }
  vmaMergeAround(mm, vma);
}
