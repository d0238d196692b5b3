/**
 * struct hmm: the per-mm HMM state, hung on `mm.hmm`, and the ONE mmu notifier through which every
 * CPU page-table change of that mm reaches every mirror.
 *
 *   mirrors     the registered mirrors, newest first (list_add), under mirrorsSem (an rwsem)
 *   ranges      the registered ranges, newest first, under rangesLock (a spinlock in v5.3)
 *   notifiers   invalidations in flight on this mm (invalidate_range_start done, _end not yet)
 *   wq          where hmm_range_wait_until_valid sleeps; woken when `notifiers` drops to 0
 *   kref        one reference per registered mirror and per registered range (+ short-lived ones)
 *
 * Invalidation tracking (range->valid), [5.3]:
 *   start: notifiers++ and every range the update overlaps becomes invalid — the overlap test skips
 *          a range only if `update.end < range.start || update.start >= range.end`, so an update
 *          that ends exactly at range.start still invalidates it; then sync_cpu_device_pagetables
 *          for EVERY mirror (newest first) under mirrors_sem held for read. Not blockable (the OOM
 *          reaper): mirrors_sem is only trylocked, and a mirror's -EAGAIN stops the loop; either
 *          failure undoes notifiers++ and returns -EAGAIN. Any other nonzero return is a WARN.
 *   end:   notifiers--; at 0, EVERY range of the mm becomes valid again (whether or not its pfns
 *          were refreshed) and the waiters are woken. No mirror callback runs at end. The pfns
 *          arrays are never cleared.
 *   release (exit_mmap): each mirror's release() under mirrors_sem held for read; mirrors stay
 *          registered (the driver still calls hmm_mirror_unregister, never from release()).
 *
 * Range validity has two protocols (validity.ts), chosen per machine (HmmMachine.validity, from the
 * Simulator's `protocol` option) and fixed in each hmm when it is created:
 *   'seed'  the above, exactly (v5.3 range->valid).
 *   'seq'   v5.5's mmu_interval_notifier sequence count, with each mirror as one interval
 *           notifier over the whole address space (lib/test_hmm.c inserts one per open): start
 *           makes `seq` odd (subscriptions->invalidate_seq |= 1) and stamps every mirror with it
 *           (mmu_interval_set_seq, done here before the callbacks rather than by the driver under
 *           its lock); end of the last invalidation in flight makes `seq` even again and wakes the
 *           waiters. range.ts reads it (mmu_interval_read_begin / read_retry).
 * `inflight` records the [start, end) of every invalidation in flight, for the checkers only; the
 * tracepoints (HmmTracepoints, on the machine's stream) tell checkers what happened and are never
 * consulted.
 *
 * When the last kref goes, hmm_free clears mm.hmm and unregisters the notifier without calling
 * release (mmu_notifier_unregister_no_release), then drops its mm_count reference.
 *
 * Model notes: the notifier's callbacks are generators where they may sleep (start takes
 * mirrors_sem with down_read when blockable); run for a non-blockable range they execute inside
 * non_block_start/end, so a mirror callback that sleeps there is reported where it happens. A WARN
 * is a thrown KernelWarning: invalidate_range_start first finishes its mirror loop and drops the
 * lock, as the kernel continues after WARN_ON, then throws. The SRCU-deferred part of hmm_free
 * (hmm_free_rcu: mmdrop) runs at once.
 *
 * @see mm/hmm.c (Linux v5.3: hmm_get_or_create, hmm_free, hmm_release, notifiers_decrement,
 *      hmm_invalidate_range_start, hmm_invalidate_range_end), include/linux/hmm.h (struct hmm)
 */

import { hex } from '../../core/addr.js';
import { KernelBug, KernelWarning } from '../../core/assert.js';
import { EAGAIN } from '../../core/errno.js';
import type { MmStruct } from '../../mm/mm.js';
import {
  type MmuNotifierRange,
  mmuNotifierRegisterLocked,
  mmuNotifierUnregisterNoRelease,
  runMaybeTask,
} from '../../mm/mmu_notifier.js';
import type { Task } from '../../sched/index.js';
import { everyRange, invalState, krefChange, mirrorList, validFlags } from './footprint.js';
import {
  HMM_UPDATE_INVALIDATE,
  Hmm,
  type HmmMachine,
  type HmmMirror,
  type HmmNotifierOps,
  type HmmUpdate,
} from './types.js';

export { Hmm };

/** The notifier callbacks of an hmm: its invalidations reach its mirrors through them. */
const hmmNotifierOps: HmmNotifierOps = (hmm) => ({
  release: () => hmmRelease(hmm),
  invalidateRangeStart: (_mn, range) => hmmInvalidateRangeStart(hmm, range),
  invalidateRangeEnd: (_mn, range) => hmmInvalidateRangeEnd(hmm, range),
});

/** mm->hmm, or null. */
export function mmHmm(mm: MmStruct): Hmm | null {
  return mm.hmm instanceof Hmm ? mm.hmm : null;
}

/**
 * hmm_get_or_create: a new reference on mm's hmm, creating it (and registering its mmu notifier)
 * on first use; null if the notifier cannot be registered (the caller returns -ENOMEM).
 * mmap_sem must be held for write.
 */
export function hmmGetOrCreate(mm: MmStruct, machine: HmmMachine): Hmm | null {
  mm.mmapSem.assertHeld('write');
  const cur = mmHmm(mm);
  if (cur !== null && hmmGetUnlessZero(cur)) return cur;
  const hmm = new Hmm(mm, machine, hmmNotifierOps);
  if (mmuNotifierRegisterLocked(hmm.mmuNotifier, mm) !== 0) return null;
  mm.mmgrab();
  mm.hmm = hmm;
  mm.kernel.counters.inc('hmm_create');
  return hmm;
}

/** kref_get_unless_zero(&hmm->kref). */
export function hmmGetUnlessZero(hmm: Hmm): boolean {
  krefChange(hmm, 'add');
  if (hmm.kref <= 0) return false;
  hmm.kref++;
  return true;
}

/** kref_get(&hmm->kref): the caller already holds a reference. */
export function hmmGet(hmm: Hmm): void {
  if (hmm.kref <= 0) throw new KernelBug(`refcount_t: addition on 0; use-after-free of ${hmm}`);
  krefChange(hmm, 'add');
  hmm.kref++;
}

/** hmm_put: the last reference frees the hmm (hmm_free). */
export function hmmPut(hmm: Hmm): void {
  if (hmm.kref <= 0) throw new KernelBug(`refcount_t: underflow; use-after-free of ${hmm}`);
  // each listed mirror holds a reference: while one is listed this put cannot free in any order
  const guarded = hmm.mirrors.length > 0;
  if (guarded) mirrorList(hmm, false);
  krefChange(hmm, guarded ? 'add' : 'write');
  hmm.kref--;
  if (hmm.kref === 0) hmmFree(hmm);
}

/** hmm_free + hmm_free_rcu. */
function hmmFree(hmm: Hmm): void {
  const mm = hmm.mm;
  if (mm.hmm === hmm) mm.hmm = null;
  mmuNotifierUnregisterNoRelease(hmm.mmuNotifier, mm);
  mm.mmdrop();
  mm.kernel.counters.inc('hmm_free');
}

/** hmm_release: exit_mmap is tearing the mm down. */
function* hmmRelease(hmm: Hmm): Task {
  if (!hmmGetUnlessZero(hmm)) return;
  // Ranges hold mm_users (hmm_range_register's mmget), so exit_mmap cannot run while one exists.
  everyRange(hmm, 'read');
  if (hmm.ranges.length > 0) {
    hmmPut(hmm);
    throw new KernelWarning(
      `WARNING: hmm_release: ${hmm.ranges.length} range(s) still registered on mm ${hmm.mm.id} at exit_mmap`,
    );
  }
  yield* hmm.mirrorsSem.downRead();
  try {
    mirrorList(hmm, false);
    for (const mirror of [...hmm.mirrors]) {
      // The driver must not call hmm_mirror_unregister() from release().
      const ops = mirror.ops;
      if (ops?.release) {
        traceMirrorCallback(hmm, mirror, 'release');
        yield* runMaybeTask(ops.release(mirror), true);
      }
    }
  } finally {
    hmm.mirrorsSem.upRead();
  }
  hmm.mm.kernel.counters.inc('hmm_release');
  hmmPut(hmm);
}

/** The hmm_mirror_callback tracepoint: a mirror callback is about to run. */
function traceMirrorCallback(
  hmm: Hmm,
  mirror: HmmMirror,
  callback: 'sync_cpu_device_pagetables' | 'release',
): void {
  const trace = hmm.machine.trace;
  if (trace.enabled) trace.emit('hmm_mirror_callback', { mirror, callback });
}

/**
 * notifiers_decrement: the last invalidation in flight revalidates every range and wakes waiters
 * ('seq': ends the odd sequence, mn_itree_inv_end).
 */
function notifiersDecrement(hmm: Hmm, nrange: MmuNotifierRange): void {
  hmm.rangesLock.lock();
  invalState(hmm, 'write');
  if (hmm.notifiers <= 0) {
    hmm.rangesLock.unlock();
    throw new KernelBug(`hmm: notifiers count underflow on ${hmm}`);
  }
  hmm.notifiers--;
  forgetInflight(hmm, nrange);
  const trace = hmm.machine.trace;
  if (trace.enabled) trace.emit('mmu_notifier_invalidate_range_end', { hmm, range: nrange });
  if (hmm.notifiers === 0) {
    validFlags(hmm, 'write');
    for (const range of hmm.ranges) range.valid = true;
    hmm.validity.invalidateEnd(hmm);
    hmm.wq.wakeUpAll();
  }
  hmm.rangesLock.unlock();
}

/** Drops nrange (or the oldest in-flight range with its bounds) from hmm.inflight. */
function forgetInflight(hmm: Hmm, nrange: MmuNotifierRange): void {
  const list = hmm.inflight;
  let i = list.indexOf(nrange);
  for (let k = 0; i < 0 && k < list.length; k++) {
    const r = list[k] as MmuNotifierRange;
    if (r.start === nrange.start && r.end === nrange.end) i = k;
  }
  if (i >= 0) list.splice(i, 1);
}

/** hmm_invalidate_range_start ([5.3]). */
function* hmmInvalidateRangeStart(hmm: Hmm, nrange: MmuNotifierRange): Task<number> {
  if (!hmmGetUnlessZero(hmm)) return 0;
  const update: HmmUpdate = {
    start: nrange.start,
    end: nrange.end,
    event: HMM_UPDATE_INVALIDATE,
    blockable: nrange.blockable,
  };

  hmm.rangesLock.lock();
  invalState(hmm, 'add');
  mirrorList(hmm, false);
  validFlags(hmm, 'add');
  hmm.notifiers++;
  hmm.inflight.push(nrange);
  hmm.validity.invalidateStart(hmm);
  const trace = hmm.machine.trace;
  if (trace.enabled) trace.emit('mmu_notifier_invalidate_range_start', { hmm, range: nrange });
  for (const range of hmm.ranges) {
    // v5.3's overlap test: an update ending exactly at range.start still counts.
    if (update.end < range.start || update.start >= range.end) continue;
    range.valid = false;
  }
  hmm.rangesLock.unlock();

  let ret = 0;
  let warning: string | null = null;
  let locked = true;
  if (update.blockable) yield* hmm.mirrorsSem.downRead();
  else if (!hmm.mirrorsSem.downReadTrylock()) {
    ret = -EAGAIN;
    locked = false;
  }
  if (locked) {
    try {
      mirrorList(hmm, false);
      for (const mirror of [...hmm.mirrors]) {
        const ops = mirror.ops;
        if (ops === null) continue;
        traceMirrorCallback(hmm, mirror, 'sync_cpu_device_pagetables');
        const rc = yield* runMaybeTask(ops.syncCpuDevicePagetables(mirror, update), update.blockable);
        if (rc !== 0) {
          if (update.blockable || rc !== -EAGAIN) {
            warning ??=
              `WARNING: hmm_invalidate_range_start: sync_cpu_device_pagetables returned ${rc} for ` +
              `[${hex(update.start)}, ${hex(update.end)}) in ${update.blockable ? '' : 'non-'}blockable context ` +
              '(only -EAGAIN when not blockable is allowed)';
            continue;
          }
          ret = -EAGAIN;
          break;
        }
      }
    } finally {
      hmm.mirrorsSem.upRead();
    }
  }
  if (ret !== 0) notifiersDecrement(hmm, nrange);
  hmmPut(hmm);
  hmm.mm.kernel.counters.inc(ret === 0 ? 'hmm_invalidate' : 'hmm_invalidate_eagain');
  if (warning !== null) throw new KernelWarning(warning);
  return ret;
}

/** hmm_invalidate_range_end. */
function hmmInvalidateRangeEnd(hmm: Hmm, nrange: MmuNotifierRange): void {
  if (!hmmGetUnlessZero(hmm)) return;
  notifiersDecrement(hmm, nrange);
  hmmPut(hmm);
}
