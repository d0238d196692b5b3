/**
 * mmu interval notifiers: today's way for a device driver to follow one VA range of an mm.
 *
 * A subscription covers [start, start + length). The mm's `mmu_notifier_subscriptions` keeps every
 * subscription in an interval tree and a collision-retry count, `invalidate_seq`: even when idle,
 * made odd (`seq |= 1`) by the first invalidation that hits a subscription, and made even again
 * (`seq++`) by the last `invalidate_range_end` of the mm (`active_invalidate_ranges` counts the ones
 * in flight, hitting a subscription or not). While it is odd the tree is frozen: inserts and removes
 * go on `deferred_list` and are applied by that last end, which then wakes every sleeper.
 *
 * A driver reads with `seq = mmuIntervalReadBegin(sub)` (it sleeps while an invalidation that hit
 * this subscription is in progress), builds its device mapping, and under its own lock checks
 * `mmuIntervalReadRetry(sub, seq)`; the `invalidate` callback takes the same lock and calls
 * `mmuIntervalSetSeq(sub, curSeq)`, so a read that overlapped an invalidation retries.
 *
 * Interval subscriptions get no release callback: the mm's teardown invalidates every one of them
 * with MMU_NOTIFY_RELEASE over the whole address space (mn_itree_release), then with the UNMAP of
 * exit_mmap's unmap, like any other invalidation. They stay in the tree until the driver removes them.
 *
 * Sequence numbers are JS numbers: they never wrap (2^53 invalidations), where the kernel's unsigned
 * long may. The spinlock of the struct is the atomicity of the code between two yields.
 *
 * @see mm/mmu_notifier.c, include/linux/mmu_notifier.h (torvalds/linux blob at c2818c9a0876, a
 * v5.8..v5.12 tree, plus the later changes docs/fidelity.md lists; none touched the interval code)
 */

import { KernelBug, KernelWarning } from '../core/assert.js';
import { ArgumentError, EAGAIN, EOVERFLOW } from '../core/errno.js';
import type { Task } from '../sched/index.js';
import { MemKind, memRead, memWrite, mightSleep, WaitQueue } from '../sched/index.js';
import { IntervalTree } from './interval_tree.js';
import { type MaybeTask, runMaybeTask } from './maybe_task.js';
import type { MmStruct } from './mm.js';
import type { MmuNotifierRange } from './mmu_notifier.js';

/** unsigned long's maximum; as a double it rounds up to 2^64, above every address an interval holds. */
export const ULONG_MAX = 2 ** 64 - 1;

/**
 * struct mmu_interval_notifier_ops: the one callback of an interval notifier. @see
 * include/linux/mmu_notifier.h
 */
export interface MmuIntervalNotifierOps {
  /**
   * Called for every invalidation that overlaps the subscription, with the count the driver must
   * store with mmuIntervalSetSeq under its lock. Returns false only when the range is not blockable
   * and the driver would have to sleep; the invalidation then fails with -EAGAIN.
   */
  invalidate(sub: MmuIntervalNotifier, range: MmuNotifierRange, curSeq: number): MaybeTask<boolean>;
}

/**
 * struct mmu_interval_notifier: a driver's subscription to invalidations of [start, last] in one mm. @see
 * mm/mmu_notifier.c
 */
export class MmuIntervalNotifier {
  /** The mm subscribed to; null before mmuIntervalNotifierInsert. */
  mm: MmStruct | null = null;
  /** The driver's invalidate callback; null before insert. */
  ops: MmuIntervalNotifierOps | null = null;
  /** The first address covered. */
  start = 0;
  /** The last address covered (the tree's closed interval). */
  last = 0;
  /** Odd: the value an invalidation handed in; compared by read_begin/read_retry. */
  invalidateSeq = 0;
  /** Between insert and remove: the model's check against inserting or removing twice. */
  inserted = false;
}

/** The interval half of the mm's mmu_notifier_subscriptions (the classic list is mm.notifiers). */
export class MmuNotifierSubscriptions {
  /** subscriptions->invalidate_seq: odd while an invalidation that hit the tree is in flight. */
  invalidateSeq = 2;
  /** Invalidations in flight; the tree may change (deferred list) only when it returns to 0. */
  activeInvalidateRanges = 0;
  /** The interval notifiers of this mm, by range. */
  readonly itree = new IntervalTree<MmuIntervalNotifier>();
  /** Where mmuIntervalReadBegin and removal wait for the sequence count to go even. */
  readonly wq: WaitQueue;
  /** hlist: newest first; an entry not in the tree is a deferred insert, one in it a deferred remove. */
  readonly deferredList: MmuIntervalNotifier[] = [];

  constructor(mm: MmStruct) {
    this.wq = new WaitQueue(`mmu_notifier_subscriptions mm ${mm.id}`);
  }
}

/** mm->notifier_subscriptions with has_itree set; freed with the mm (__mmu_notifier_subscriptions_destroy). */
const itrees = new WeakMap<MmStruct, MmuNotifierSubscriptions>();

/** The mm's subscriptions if an interval notifier was ever inserted on it (has_itree), else null. */
export function mmItreeSubscriptions(mm: MmStruct): MmuNotifierSubscriptions | null {
  return itrees.get(mm) ?? null;
}

function mnItreeIsInvalidating(subs: MmuNotifierSubscriptions): boolean {
  return (subs.invalidateSeq & 1) === 1;
}

/**
 * mn_itree_inv_start_range: counts the invalidation in and, if it hits a subscription, makes the
 * count odd. Returns the subscriptions to call, in tree order, and the count to hand them.
 */
export function mnItreeInvStartRange(
  subs: MmuNotifierSubscriptions,
  range: MmuNotifierRange,
): {
  /** The subscriptions overlapping the range, in tree order. */
  hits: MmuIntervalNotifier[];
  /** The sequence count the callbacks get as curSeq (odd if anything was hit). */
  seq: number;
} {
  memWrite(MemKind.notifier, 0, 0);
  subs.activeInvalidateRanges++;
  // The tree cannot change while the count is odd, so the kernel's lazy iter_next sees this list.
  const hits = subs.itree.overlapping(range.start, range.end - 1);
  if (hits.length > 0) subs.invalidateSeq |= 1;
  return { hits, seq: subs.invalidateSeq };
}

/** mn_itree_inv_end: the last invalidation in flight makes the count even, applies the deferred list, wakes. */
export function mnItreeInvEnd(subs: MmuNotifierSubscriptions): void {
  memWrite(MemKind.notifier, 0, 0);
  if (subs.activeInvalidateRanges <= 0) throw new KernelBug('mn_itree_inv_end: no invalidation in flight');
  if (--subs.activeInvalidateRanges > 0 || !mnItreeIsInvalidating(subs)) return;
  subs.invalidateSeq++;
  for (const sub of subs.deferredList) {
    if (subs.itree.has(sub)) subs.itree.remove(sub);
    else subs.itree.insert(sub);
  }
  subs.deferredList.length = 0;
  subs.wq.wakeUpAll();
}

/**
 * mn_itree_invalidate: calls every overlapping subscription. A false return from a blockable range
 * is a WARN; from a non-blockable one it ends this invalidation here and returns -EAGAIN (the caller
 * must then not call invalidate_range_end).
 */
export function* mnItreeInvalidate(subs: MmuNotifierSubscriptions, range: MmuNotifierRange): Task<number> {
  const { hits, seq } = mnItreeInvStartRange(subs, range);
  for (const sub of hits) {
    traceInvalidate(sub, range, seq);
    const ok = yield* runMaybeTask(
      (sub.ops as MmuIntervalNotifierOps).invalidate(sub, range, seq),
      range.blockable,
    );
    if (ok) continue;
    if (range.blockable) {
      throw new KernelWarning('mmu_interval_notifier: invalidate returned false for a blockable range');
    }
    mnItreeInvEnd(subs);
    return -EAGAIN;
  }
  return 0;
}

/** The mmu_interval_notifier_invalidate tracepoint (mm_trace.ts). */
function traceInvalidate(sub: MmuIntervalNotifier, range: MmuNotifierRange, seq: number): void {
  const t = sub.mm?.kernel.tracepoints;
  if (t === undefined || !t.enabled || sub.mm === null) return;
  t.emit('mmu_interval_notifier_invalidate', {
    mm: sub.mm,
    start: sub.start,
    end: sub.last + 1,
    rangeStart: range.start,
    rangeEnd: range.end,
    event: range.event,
    seq,
  });
}

/** mn_itree_release: the mm is going away; every subscription sees one blockable RELEASE over it all. */
export function* mnItreeRelease(subs: MmuNotifierSubscriptions, release: MmuNotifierRange): Task {
  const { hits, seq } = mnItreeInvStartRange(subs, release);
  for (const sub of hits) {
    traceInvalidate(sub, release, seq);
    const ok = yield* runMaybeTask((sub.ops as MmuIntervalNotifierOps).invalidate(sub, release, seq), true);
    if (!ok)
      throw new KernelWarning('mmu_interval_notifier: invalidate returned false for MMU_NOTIFY_RELEASE');
  }
  mnItreeInvEnd(subs);
}

/** __mmu_notifier_register(NULL, mm): gives the mm its interval tree; mmap_lock held for write. */
function mmuNotifierRegisterItree(mm: MmStruct): MmuNotifierSubscriptions {
  mm.mmapSem.assertHeld('write');
  if (mm.users <= 0) throw new KernelBug('__mmu_notifier_register: mm_users is 0');
  let subs = itrees.get(mm);
  if (subs === undefined) {
    subs = new MmuNotifierSubscriptions(mm);
    itrees.set(mm, subs);
  }
  return subs;
}

function checkAddress(name: string, v: number): void {
  if (!Number.isSafeInteger(v) || v < 0)
    throw new ArgumentError(name, `must be an unsigned integer, got ${v}`);
}

/** __mmu_interval_notifier_insert */
function intervalInsert(
  sub: MmuIntervalNotifier,
  mm: MmStruct,
  subs: MmuNotifierSubscriptions,
  start: number,
  length: number,
  ops: MmuIntervalNotifierOps,
): number {
  memWrite(MemKind.notifier, 0, 0);
  sub.mm = mm;
  sub.ops = ops;
  sub.start = start;
  // -EOVERFLOW; check_add_overflow(start, length - 1) cannot fire here: both are below 2^53 (checkAddress)
  if (length === 0) return -EOVERFLOW;
  sub.last = start + length - 1;
  if (mm.users <= 0)
    throw new KernelWarning('mmu_interval_notifier_insert: called without an mmget() reference');
  mm.mmgrab();
  sub.inserted = true;
  if (subs.activeInvalidateRanges > 0) {
    // We cannot know which ranges the invalidations in flight cover: assume this one is hit.
    if (mnItreeIsInvalidating(subs)) subs.deferredList.unshift(sub);
    else {
      subs.invalidateSeq |= 1;
      subs.itree.insert(sub);
    }
    sub.invalidateSeq = subs.invalidateSeq;
  } else {
    if (mnItreeIsInvalidating(subs))
      throw new KernelWarning('mmu_interval_notifier_insert: odd seq while idle');
    // odd, not the current count, and far from wrapping to it
    sub.invalidateSeq = subs.invalidateSeq - 1;
    subs.itree.insert(sub);
  }
  return 0;
}

function checkInsert(sub: MmuIntervalNotifier, start: number, length: number): void {
  if (sub.inserted) throw new KernelBug('mmu_interval_notifier_insert: subscription already inserted');
  checkAddress('start', start);
  checkAddress('length', length);
}

/** mmu_interval_notifier_insert: takes mmap_lock for write if the mm has no interval tree yet. */
export function* mmuIntervalNotifierInsert(
  sub: MmuIntervalNotifier,
  mm: MmStruct,
  start: number,
  length: number,
  ops: MmuIntervalNotifierOps,
): Task<number> {
  checkInsert(sub, start, length);
  let subs = itrees.get(mm);
  if (subs === undefined) {
    yield* mm.mmapSem.downWrite();
    try {
      subs = mmuNotifierRegisterItree(mm);
    } finally {
      mm.mmapSem.upWrite();
    }
  }
  return intervalInsert(sub, mm, subs, start, length, ops);
}

/** mmu_interval_notifier_insert_locked: the caller holds mmap_lock for write. */
export function mmuIntervalNotifierInsertLocked(
  sub: MmuIntervalNotifier,
  mm: MmStruct,
  start: number,
  length: number,
  ops: MmuIntervalNotifierOps,
): number {
  mm.mmapSem.assertHeld('write');
  checkInsert(sub, start, length);
  return intervalInsert(sub, mm, itrees.get(mm) ?? mmuNotifierRegisterItree(mm), start, length, ops);
}

function subscriptionsOf(sub: MmuIntervalNotifier, fn: string): MmuNotifierSubscriptions {
  const subs = sub.inserted && sub.mm !== null ? itrees.get(sub.mm) : undefined;
  if (subs === undefined) throw new KernelBug(`${fn}: subscription is not inserted`);
  return subs;
}

/**
 * mmu_interval_notifier_remove: once it returns no callback runs or will run. If an invalidation is
 * in progress the removal is deferred to its end and this waits for that end, so it must not be
 * called from a callback, nor with a lock a callback takes.
 */
export function* mmuIntervalNotifierRemove(sub: MmuIntervalNotifier): Task {
  mightSleep('mmu_interval_notifier_remove');
  const subs = subscriptionsOf(sub, 'mmu_interval_notifier_remove');
  memWrite(MemKind.notifier, 0, 0);
  const mm = sub.mm as MmStruct;
  let seq = 0;
  if (mnItreeIsInvalidating(subs)) {
    if (!subs.itree.has(sub)) {
      // inserted while this invalidation ran, and not yet in the tree: just forget the insert
      const i = subs.deferredList.indexOf(sub);
      if (i < 0)
        throw new KernelBug('mmu_interval_notifier_remove: subscription neither in the tree nor deferred');
      subs.deferredList.splice(i, 1);
    } else {
      subs.deferredList.unshift(sub);
      seq = subs.invalidateSeq;
    }
  } else {
    if (!subs.itree.has(sub))
      throw new KernelWarning('mmu_interval_notifier_remove: subscription not in the tree');
    subs.itree.remove(sub);
  }
  sub.inserted = false;
  if (seq !== 0) yield* subs.wq.waitEvent(() => subs.invalidateSeq !== seq);
  mm.mmdrop();
}

/**
 * mmu_interval_read_begin: the count to pass to read_retry. Sleeps while an invalidation that hit
 * this subscription is still in progress (its stored count equals the mm's odd count); it does not
 * loop, so read_retry may already be true when it returns.
 */
export function* mmuIntervalReadBegin(sub: MmuIntervalNotifier): Task<number> {
  const subs = subscriptionsOf(sub, 'mmu_interval_read_begin');
  memRead(MemKind.notifier, 0, 0);
  const seq = sub.invalidateSeq;
  if (seq === subs.invalidateSeq) yield* subs.wq.waitEvent(() => subs.invalidateSeq !== seq);
  return seq;
}

/** mmu_interval_read_retry: true if an invalidation hit the subscription since read_begin (driver lock held). */
export function mmuIntervalReadRetry(sub: MmuIntervalNotifier, seq: number): boolean {
  memRead(MemKind.notifier, 0, 0);
  return sub.invalidateSeq !== seq;
}

/** mmu_interval_check_retry: the same test without the driver lock, an early exit for long work. */
export function mmuIntervalCheckRetry(sub: MmuIntervalNotifier, seq: number): boolean {
  memRead(MemKind.notifier, 0, 0);
  return sub.invalidateSeq !== seq;
}

/** mmu_interval_set_seq: called by invalidate, under the driver lock, with the count it was given. */
export function mmuIntervalSetSeq(sub: MmuIntervalNotifier, curSeq: number): void {
  memWrite(MemKind.notifier, 0, 0);
  sub.invalidateSeq = curSeq;
}
