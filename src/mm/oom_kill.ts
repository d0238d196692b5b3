/**
 * The OOM reaper: the one caller that invalidates with blockable = false. It tears down the
 * anonymous private memory of a victim without sleeping; a notifier that would have to sleep
 * returns -EAGAIN, and that VMA is skipped (the reaper tries again later). This is what makes the
 * non-blockable branch of every notifier reachable.
 *
 * @see mm/oom_kill.c (__oom_reap_task_mm) (Linux v5.3)
 */

import type { Task } from '../sched/index.js';
import { zapRange } from './memory.js';
import type { MmStruct } from './mm.js';
import {
  MMU_NOTIFY_CLEAR,
  mmuNotifierInvalidateRangeEnd,
  mmuNotifierInvalidateRangeStart,
  notifierRange,
} from './mmu_notifier.js';
import { VM_HUGETLB, VM_LOCKED, VM_PFNMAP, VM_SHARED } from './vma.js';

/** Returns true if every eligible VMA was reaped, false if the lock or a notifier said "later". */
export function* oomReapTaskMm(mm: MmStruct): Task<boolean> {
  if (!mm.mmapSem.downReadTrylock()) return false;
  let ok = true;
  try {
    for (const vma of [...mm.vmas]) {
      if (vma.flags & (VM_LOCKED | VM_HUGETLB | VM_PFNMAP)) continue;
      if (!vma.isAnonymous() && vma.flags & VM_SHARED) continue;
      const range = notifierRange(mm, vma.start, vma.end, MMU_NOTIFY_CLEAR, false);
      if ((yield* mmuNotifierInvalidateRangeStart(range)) !== 0) {
        ok = false;
        continue;
      }
      zapRange(mm, vma.start, vma.end);
      yield* mmuNotifierInvalidateRangeEnd(range);
    }
  } finally {
    mm.mmapSem.upRead();
  }
  mm.kernel.counters.inc(ok ? 'oom_reap' : 'oom_reap_retry');
  return ok;
}
