/**
 * fork's address-space half (dup_mmap): the child gets a copy of every VMA except VM_DONTCOPY ones,
 * anonymous VMAs are linked into the parent's anon_vmas and get one of their own, and
 * copy_page_range shares the pages copy-on-write. The parent's mmap_sem is held for write
 * throughout, so nothing faults in the parent meanwhile.
 *
 * @see kernel/fork.c (dup_mmap), mm/rmap.c (anon_vma_fork) (Linux v5.3)
 */

import type { Task } from '../sched/index.js';
import { copyPageRange } from './memory.js';
import type { MmStruct } from './mm.js';
import { mmput } from './mm.js';
import { linkAnonChain } from './rmap.js';
import { VM_DONTCOPY, Vma, vmAreaAlloc } from './vma.js';

/** Returns the child's mm, or -ENOMEM (the half-built child torn down) if a page copy failed. */
export function* dupMm(parent: MmStruct): Task<MmStruct | number> {
  const child = parent.kernel.newMm(parent.memcgId);
  let err = 0;
  yield* parent.mmapSem.downWrite();
  try {
    for (const vma of [...parent.vmas]) {
      if (vma.flags & VM_DONTCOPY) continue;
      const dup = new Vma(child, vma.start, vma.end, vma.flags, vma.pgoff, vma.file);
      const copy = vmAreaAlloc(child.kernel.slab, dup, 'vm_area_dup');
      anonVmaFork(child, vma, copy);
      copy.file?.mmaps.add(copy);
      child.insertVma(copy);
      err = yield* copyPageRange(child, parent, vma);
      if (err < 0) break;
    }
  } finally {
    parent.mmapSem.upWrite();
  }
  if (err < 0) {
    yield* mmput(child);
    return err;
  }
  parent.kernel.counters.inc('fork');
  return child;
}

/** anon_vma_fork: the child's VMA sees its ancestors' anonymous pages and gets its own anon_vma. */
function anonVmaFork(child: MmStruct, parentVma: Vma, copy: Vma): void {
  if (parentVma.anonVma === null) return;
  const own = child.kernel.newAnonVma();
  copy.anonChain = [...parentVma.anonChain, own];
  copy.anonVma = own;
  linkAnonChain(copy);
}
