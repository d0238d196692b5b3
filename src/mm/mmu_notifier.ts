/**
 * mmu notifiers: how a secondary MMU (a device) learns that CPU page tables are about to change.
 *
 * invalidate_range_start is called before any PTE that maps a page is removed or downgraded
 * (munmap, mprotect, COW break, MADV_DONTNEED, fork's write-protect, migration), and
 * invalidate_range_end after. `blockable` is false only for the OOM reaper: a callback that would
 * sleep must then return -EAGAIN instead, and the invalidation of that range is abandoned. Every
 * notifier runs even if an earlier one failed; an error from a blockable invalidation, or any error
 * other than -EAGAIN, is a WARN (v5.3 __mmu_notifier_invalidate_range_start).
 *
 * A callback may sleep only when blockable: it returns a number directly (atomic) or a generator
 * (sleeps). A generator run for a non-blockable range runs inside non_block_start/end, so a
 * callback that sleeps there is reported on the spot.
 *
 * Notifiers are kept newest first (hlist_add_head_rcu).
 *
 * Today's generation adds to this, on the same mm: the interval notifiers of
 * mmu_interval_notifier.ts run first (mn_itree_invalidate; a -EAGAIN there skips these callbacks),
 * then the classic ones here; the range carries today's `event` values and an `owner`. The classic
 * callbacks keep v5.3's failure handling (see docs/fidelity.md): the seed API's hmm both fails
 * invalidate_range_start with -EAGAIN and implements invalidate_range_end, which today's kernel WARNs on.
 *
 * @see mm/mmu_notifier.c, include/linux/mmu_notifier.h (Linux v5.3; events, owner and the interval
 * tree hooks from torvalds/linux, see docs/fidelity.md)
 */

import { KernelBug, KernelWarning } from '../core/assert.js';
import { EAGAIN, EINVAL } from '../core/errno.js';
import type { Task } from '../sched/index.js';
import { MemKind, memRead, memWrite } from '../sched/index.js';
import { type MaybeTask, runMaybeTask } from './maybe_task.js';
import type { MmStruct } from './mm.js';
import {
  mmItreeSubscriptions,
  mnItreeInvalidate,
  mnItreeInvEnd,
  mnItreeRelease,
  ULONG_MAX,
} from './mmu_interval_notifier.js';

export { type MaybeTask, runMaybeTask } from './maybe_task.js';

/**
 * MMU_NOTIFY_UNMAP: the range is being unmapped (munmap, mremap). @see include/linux/mmu_notifier.h (enum
 * mmu_notifier_event)
 */
export const MMU_NOTIFY_UNMAP = 0;
/** MMU_NOTIFY_CLEAR: page-table entries are cleared (zap, page migration, reclaim), the VMA stays. */
export const MMU_NOTIFY_CLEAR = 1;
/** MMU_NOTIFY_PROTECTION_VMA: the VMA protection changes (mprotect). */
export const MMU_NOTIFY_PROTECTION_VMA = 2;
/**
 * MMU_NOTIFY_PROTECTION_PAGE: the protection of pages changes, the VMA's does not (write-protect for COW
 * or KSM).
 */
export const MMU_NOTIFY_PROTECTION_PAGE = 3;
/** MMU_NOTIFY_SOFT_DIRTY: soft-dirty tracking is write-protecting the range. */
export const MMU_NOTIFY_SOFT_DIRTY = 4;
/** The mm is going away: the one invalidation interval notifiers get from exit_mmap's release. */
export const MMU_NOTIFY_RELEASE = 5;
/** migrate_vma_*: `owner` is the migration's pgmap_owner, so a driver may skip its own pages. */
export const MMU_NOTIFY_MIGRATE = 6;
/** make_device_exclusive: `owner` is the device that takes the page exclusively. */
export const MMU_NOTIFY_EXCLUSIVE = 7;

/** enum mmu_notifier_event, in today's order. */
export const MMU_NOTIFY_EVENT_NAMES = [
  'UNMAP',
  'CLEAR',
  'PROTECTION_VMA',
  'PROTECTION_PAGE',
  'SOFT_DIRTY',
  'RELEASE',
  'MIGRATE',
  'EXCLUSIVE',
] as const;

/**
 * struct mmu_notifier_range: the [start, end) range of `mm` an invalidation covers and why (event). @see
 * include/linux/mmu_notifier.h
 */
export interface MmuNotifierRange {
  /** The address space whose mappings change. */
  readonly mm: MmStruct;
  /** First byte address of the range (page aligned). */
  readonly start: number;
  /** One past the last byte address (exclusive, page aligned). */
  readonly end: number;
  /** Why the range is invalidated: one of the MMU_NOTIFY_* events. */
  readonly event: number;
  /** mmu_notifier_range_blockable(): false only for the OOM reaper. */
  readonly blockable: boolean;
  /** The pgmap owner (MIGRATE) or device (EXCLUSIVE) the event is for; null or absent otherwise. */
  readonly owner?: unknown;
}

/**
 * struct mmu_notifier_ops: the callbacks of a classic (whole-mm) notifier; each is optional. @see
 * include/linux/mmu_notifier.h
 */
export interface MmuNotifierOps {
  /** ->release(): the mm is being torn down (exit_mmap); the driver must stop using it. */
  release?(mn: MmuNotifier, mm: MmStruct): MaybeTask<void>;
  /**
   * ->invalidate_range_start(): mappings in `range` are about to change; 0, or -EAGAIN when the range is
   * not blockable and the driver would sleep.
   */
  invalidateRangeStart?(mn: MmuNotifier, range: MmuNotifierRange): MaybeTask<number>;
  /** ->invalidate_range_end(): the change to `range` is done; the driver may map again. */
  invalidateRangeEnd?(mn: MmuNotifier, range: MmuNotifierRange): MaybeTask<void>;
}

/**
 * struct mmu_notifier: a classic notifier on one mm, registered with mmuNotifierRegister. @see
 * mm/mmu_notifier.c
 */
export class MmuNotifier {
  /** The driver's callbacks. */
  readonly ops: MmuNotifierOps;
  /** The mm it is registered on; null before registration. */
  mm: MmStruct | null = null;
  /** hlist_unhashed(): true once removed from the mm's list (by release or unregister). */
  unhashed = true;

  constructor(ops: MmuNotifierOps) {
    this.ops = ops;
  }
}

/** __mmu_notifier_register: the caller holds mmap_sem for write. */
export function mmuNotifierRegisterLocked(mn: MmuNotifier, mm: MmStruct): number {
  mm.mmapSem.assertHeld('write');
  if (!mn.unhashed) throw new KernelBug('mmu_notifier_register: notifier already registered');
  if (mm.dead) return -EINVAL;
  memWrite(MemKind.notifier, 0, 0);
  mn.mm = mm;
  mn.unhashed = false;
  mm.notifiers.unshift(mn);
  mm.mmgrab();
  return 0;
}

/** mmu_notifier_register: takes mmap_sem for write itself. */
export function* mmuNotifierRegister(mn: MmuNotifier, mm: MmStruct): Task<number> {
  yield* mm.mmapSem.downWrite();
  try {
    return mmuNotifierRegisterLocked(mn, mm);
  } finally {
    mm.mmapSem.upWrite();
  }
}

/**
 * mmu_notifier_unregister: runs ->release if the mm has not already done so, unlinks the notifier
 * and drops its mm_count reference. Unregistering twice is a WARN (v5.3 would mmdrop twice).
 */
export function* mmuNotifierUnregister(mn: MmuNotifier, mm: MmStruct): Task {
  if (mn.mm !== mm)
    throw new KernelWarning(
      'mmu_notifier_unregister: notifier is not registered on this mm (double unregister?)',
    );
  if (!mn.unhashed) {
    if (mn.ops.release) yield* runMaybeTask(mn.ops.release(mn, mm), true);
    removeNotifier(mm, mn);
  }
  mn.mm = null;
  mm.mmdrop();
}

/** mmu_notifier_unregister_no_release: unlink without calling ->release (hmm_free uses it). */
export function mmuNotifierUnregisterNoRelease(mn: MmuNotifier, mm: MmStruct): void {
  if (mn.mm !== mm)
    throw new KernelWarning('mmu_notifier_unregister_no_release: notifier is not registered on this mm');
  if (!mn.unhashed) removeNotifier(mm, mn);
  mn.mm = null;
  mm.mmdrop();
}

function removeNotifier(mm: MmStruct, mn: MmuNotifier): void {
  memWrite(MemKind.notifier, 0, 0);
  const i = mm.notifiers.indexOf(mn);
  if (i >= 0) mm.notifiers.splice(i, 1);
  mn.unhashed = true;
}

/**
 * mmu_notifier_invalidate_range_start. Returns 0, or the last error a callback returned (only
 * -EAGAIN from a non-blockable range is legitimate; anything else WARNs).
 */
export function* mmuNotifierInvalidateRangeStart(range: MmuNotifierRange): Task<number> {
  memRead(MemKind.notifier, 0, 0);
  const subs = mmItreeSubscriptions(range.mm);
  if (subs !== null) {
    const r = yield* mnItreeInvalidate(subs, range);
    if (r !== 0) return r;
  }
  const list = range.mm.notifiers;
  if (list.length === 0) return 0;
  let ret = 0;
  for (const mn of [...list]) {
    const cb = mn.ops.invalidateRangeStart;
    if (!cb) continue;
    const r = yield* runMaybeTask(cb.call(mn.ops, mn, range), range.blockable);
    if (r !== 0) {
      if (range.blockable || r !== -EAGAIN) {
        throw new KernelWarning(
          `mmu_notifier: invalidate_range_start callback failed with ${r} in ${range.blockable ? '' : 'non-'}blockable context`,
        );
      }
      ret = r;
    }
  }
  return ret;
}

/**
 * mmu_notifier_invalidate_range_end(): ends the invalidation of `range` for interval notifiers (the
 * sequence count goes even) and calls every ->invalidate_range_end.
 */
export function* mmuNotifierInvalidateRangeEnd(range: MmuNotifierRange): Task {
  memRead(MemKind.notifier, 0, 0);
  const subs = mmItreeSubscriptions(range.mm);
  if (subs !== null) mnItreeInvEnd(subs);
  const list = range.mm.notifiers;
  if (list.length === 0) return;
  for (const mn of [...list]) {
    const cb = mn.ops.invalidateRangeEnd;
    if (cb) yield* runMaybeTask(cb.call(mn.ops, mn, range), range.blockable);
  }
}

/**
 * __mmu_notifier_release: exit_mmap tells every notifier the mm is going away: the interval notifiers
 * by one blockable RELEASE invalidation over the whole address space (they stay inserted), the
 * classic ones by ->release, after which they are unlinked.
 */
export function* mmuNotifierRelease(mm: MmStruct): Task {
  const subs = mmItreeSubscriptions(mm);
  if (subs !== null) yield* mnItreeRelease(subs, notifierRange(mm, 0, ULONG_MAX, MMU_NOTIFY_RELEASE));
  for (const mn of [...mm.notifiers]) {
    if (mn.ops.release) yield* runMaybeTask(mn.ops.release(mn, mm), true);
  }
  for (const mn of [...mm.notifiers]) removeNotifier(mm, mn);
}

/**
 * mmu_notifier_range_init (the seed code's name for it, kept); `owner` is today's addition, null
 * unless MIGRATE or EXCLUSIVE. The kernel sets MMU_NOTIFIER_RANGE_BLOCKABLE in
 * mmu_notifier_invalidate_range_start and clears it in ..._start_nonblock; here the range carries it
 * from its creation, so the one non-blocking caller (the OOM reaper) passes false.
 */
export function notifierRange(
  mm: MmStruct,
  start: number,
  end: number,
  event: number,
  blockable = true,
  owner: unknown = null,
): MmuNotifierRange {
  return { mm, start, end, event, blockable, owner };
}

/** mmu_notifier_range_init_owner: a MIGRATE or EXCLUSIVE range naming whose pages it is about (blockable). */
export function mmuNotifierRangeInitOwner(
  event: number,
  mm: MmStruct,
  start: number,
  end: number,
  owner: unknown,
): MmuNotifierRange {
  return notifierRange(mm, start, end, event, true, owner);
}
