/**
 * mprotect: change the protection of [start, start+len), splitting VMAs at the edges, merging
 * them afterwards, and rewriting the PTEs under an invalidation (change_protection).
 *
 * @see mm/mprotect.c (Linux v5.3)
 */

import { isPageAligned, pageAlignUp, TASK_SIZE } from '../core/addr.js';
import { EACCES, EINVAL, ENOMEM } from '../core/errno.js';
import type { Task } from '../sched/index.js';
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
  if (end <= start || end > TASK_SIZE) return -ENOMEM;
  if ((prot & ~PROT_MASK) !== 0) return -EINVAL;
  yield* mm.mmapSem.downWrite();
  try {
    return yield* mprotectLocked(mm, start, end, prot);
  } finally {
    mm.mmapSem.upWrite();
  }
}

function* mprotectLocked(mm: MmStruct, start: number, end: number, prot: number): Task<number> {
  const err = checkRange(mm, start, end, prot);
  if (err !== 0) return err;
  const vmas = isolateRange(mm, start, end);
  const want = calcVmProtBits(prot);
  for (const vma of vmas) {
    const newFlags = (vma.flags & ~VM_ACCESS) | want;
    if (newFlags === vma.flags) continue;
    vma.flags = newFlags;
    yield* changeProtection(mm, vma, vma.start, vma.end);
  }
  for (const vma of vmas) if (mm.vmas.includes(vma)) vmaMergeAround(mm, vma);
  mm.kernel.counters.inc('mprotect');
  return 0;
}

/** The range must be fully mapped (-ENOMEM) and each VMA must allow the new access (-EACCES). */
function checkRange(mm: MmStruct, start: number, end: number, prot: number): number {
  const want = calcVmProtBits(prot);
  let addr = start;
  for (let i = mm.findVmaIndex(start); addr < end; i++) {
    const vma = mm.vmas[i];
    if (vma === undefined || vma.start > addr) return -ENOMEM;
    if (want & ~(vma.flags >> 4) & VM_ACCESS) return -EACCES;
    addr = vma.end;
  }
  return 0;
}
