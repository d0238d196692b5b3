/**
 * dmirror with one broken step, 'vma-kept-unlocked': the READ command looks the VMA up under
 * mmap_sem (correctly), drops the lock, and after the copy checks the range against the vma it
 * saved. find_vma's result is valid only while mmap_sem is held: a munmap in between frees it.
 * The explorer's kasan checker must catch it (docs/explorer.md, src/drivers/dmirror/variants.ts).
 *
 * Follows the rule of include/linux/mm.h's find_vma ("must hold mmap_lock") that per-VMA locking
 * (v6.4) made VMAs SLAB_TYPESAFE_BY_RCU to survive only for lock-free lookups that revalidate; no
 * single kernel fix is cited here.
 */

import { PAGE_SIZE } from '../../core/addr.js';
import { EFAULT, ENOENT } from '../../core/errno.js';
import type { Task } from '../../sched/index.js';
import { Dmirror } from '../dmirror/dmirror.js';
import type { DmirrorReadResult } from '../dmirror/uapi.js';
import type { DriverContext } from '../driver.js';

export class VmaKeptUnlocked extends Dmirror {
  constructor(ctx: DriverContext) {
    super(ctx, 'vma-kept-unlocked');
  }

  /** Saves the vma under mmap_sem and reads it again after the lock is gone. */
  override *read(addr: number, npages: number): Task<DmirrorReadResult | number> {
    yield* this.mm.mmapSem.downRead();
    const vma = this.mm.findVma(addr);
    this.mm.mmapSem.upRead();
    if (vma === null || vma.start > addr) return -ENOENT;
    const r = yield* super.read(addr, npages);
    return addr + npages * PAGE_SIZE > vma.end ? -EFAULT : r;
  }
}
