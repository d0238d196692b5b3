/**
 * Range validity, the two strategies an hmm struct can be created with (HmmMachine.validity):
 *
 *   'seed'  v5.3's range->valid: an overlapping invalidation clears it (hmm.ts), the end of the
 *           last one in flight sets it on every range again.
 *   'seq'   v5.5's mmu_interval_notifier sequence count, each mirror being one interval notifier
 *           over the whole address space (lib/test_hmm.c inserts one per open):
 *             invalidate start   seq |= 1 (odd: in progress) and every mirror is stamped with it
 *                                (mn_itree_inv_start_range + mmu_interval_set_seq)
 *             last end           seq++ (even again, mn_itree_inv_end); hmm.ts wakes the waiters
 *             register           range.notifierSeq = the mirror's sequence (read_begin without the
 *                                sleep: -1, "not begun", while an invalidation is in progress)
 *             wait until valid   mmu_interval_read_begin: sleep while the mirror's interval is
 *                                being invalidated, then read its sequence
 *             current            !mmu_interval_read_retry / !mmu_interval_check_retry
 *           An invalidation that starts and ends between the walk and the locked check changes the
 *           sequence, so the check fails where range->valid (true again at the end) would pass.
 *
 * @see mm/hmm.c, include/linux/hmm.h (Linux v5.3: range->valid, hmm_range_wait_until_valid);
 *      mm/mmu_notifier.c, include/linux/mmu_notifier.h (Linux v5.5: mmu_interval_read_begin,
 *      mmu_interval_read_retry, mmu_interval_set_seq, mn_itree_inv_end)
 */

import { Tracepoints } from '../../core/trace.js';
import type { Task } from '../../sched/index.js';
import { invalState, rangeRead, rangeWrite } from './footprint.js';
import type {
  Hmm,
  HmmMachine,
  HmmMirror,
  HmmProtocol,
  HmmRange,
  HmmTracepoints,
  RangeValidity,
} from './types.js';

/** v5.3: range->valid. */
const seedValidity: RangeValidity = {
  protocol: 'seed',
  invalidateStart() {},
  invalidateEnd() {},
  register() {},
  current: (range) => rangeValid(range.hmm as Hmm, range),
  *waitUntilValid(range, hmm, timeoutNs): Task<boolean> {
    const left = yield* hmm.wq.waitEventTimeout(() => rangeValid(hmm, range), timeoutNs);
    return left !== 0;
  },
};

/** range->valid, read under hmm->ranges_lock's data (footprint.ts). */
function rangeValid(hmm: Hmm, range: HmmRange): boolean {
  rangeRead(hmm, range.mirror);
  return range.valid;
}

/** v5.5: the mirror's interval-notifier sequence count. */
const seqValidity: RangeValidity = {
  protocol: 'seq',
  invalidateStart(hmm) {
    hmm.seq |= 1;
    for (const mirror of hmm.mirrors) mirror.invalidateSeq = hmm.seq;
  },
  invalidateEnd(hmm) {
    if ((hmm.seq & 1) === 1) hmm.seq++;
  },
  register(range, mirror, hmm) {
    range.notifierSeq = intervalInvalidating(hmm, mirror) ? -1 : mirror.invalidateSeq;
  },
  current: (range) => {
    invalState(range.hmm as Hmm, 'read');
    rangeRead(range.hmm as Hmm, range.mirror);
    return (range.mirror as HmmMirror).invalidateSeq === range.notifierSeq;
  },
  *waitUntilValid(range, hmm, timeoutNs): Task<boolean> {
    const mirror = range.mirror as HmmMirror;
    const left = yield* hmm.wq.waitEventTimeout(() => !intervalInvalidating(hmm, mirror), timeoutNs);
    if (left === 0) return false;
    invalState(hmm, 'read');
    rangeWrite(hmm, mirror);
    range.notifierSeq = mirror.invalidateSeq;
    return true;
  },
};

/** An invalidation covering the mirror's interval is in progress (mn_itree_is_invalidating). */
function intervalInvalidating(hmm: Hmm, mirror: HmmMirror): boolean {
  invalState(hmm, 'read');
  return (hmm.seq & 1) === 1 && mirror.invalidateSeq === hmm.seq;
}

/** The strategy of a protocol. */
export function rangeValidity(protocol: HmmProtocol): RangeValidity {
  return protocol === 'seq' ? seqValidity : seedValidity;
}

/** Whether `x` names a range-validity protocol a machine may run ('seed' or 'seq'). */
export function isHmmProtocol(x: unknown): x is HmmProtocol {
  return x === 'seed' || x === 'seq';
}

/** A machine's HMM settings: the protocol's validity strategy and the machine's event stream. */
export function hmmMachine(
  protocol: HmmProtocol,
  trace: Tracepoints<HmmTracepoints> = new Tracepoints(),
): HmmMachine {
  return { validity: rangeValidity(protocol), trace };
}
