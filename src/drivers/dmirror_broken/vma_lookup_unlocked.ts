/**
 * dmirror with one broken step, 'vma-lookup-unlocked': the READ command checks that the range is
 * mapped with find_vma before it takes mmap_lock.
 * The explorer must catch it (docs/explorer.md, src/drivers/dmirror/variants.ts for what breaks).
 *
 * Follows: amdxdna "Needs to hold mm lock across VMA checking and user pages pinning"
 * (amd/xdna-driver pull request #1301, drivers/accel/amdxdna): find_vma without mmap_read_lock,
 * which mmap_assert_locked reports since v6.1.
 */

import { ENOENT } from '../../core/errno.js';
import type { Task } from '../../sched/index.js';
import { Dmirror } from '../dmirror/dmirror.js';
import type { DmirrorReadResult } from '../dmirror/uapi.js';
import type { DriverContext } from '../driver.js';

export class VmaLookupUnlocked extends Dmirror {
  constructor(ctx: DriverContext) {
    super(ctx, 'vma-lookup-unlocked');
  }

  /** Looks the VMA up without mmap_lock (find_vma's assertion fires at the call). */
  override *read(addr: number, npages: number): Task<DmirrorReadResult | number> {
    yield 'dmirror_read';
    if (this.mm.findVma(addr) === null) return -ENOENT;
    return yield* super.read(addr, npages);
  }
}
