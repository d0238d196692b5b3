/**
 * Mirrors: a device driver mirrors a process address space by registering an hmm_mirror against
 * its mm. From then on every CPU page-table change of that mm is reported, synchronously and
 * before it happens, to the mirror's sync_cpu_device_pagetables(), which must update the device
 * page table (TLB flushed) before returning. release() runs when the mm is torn down.
 *
 *   hmmMirrorRegister(mirror, mm)  mmap_sem held for write (lockdep-checked); -EINVAL for a missing
 *                                  mirror, mm or ops; -ENOMEM if the per-mm hmm (and its notifier)
 *                                  cannot be created; adds the mirror at the head (callbacks run
 *                                  newest first); 0.
 *   hmmMirrorUnregister(mirror)    unlinks it under mirrors_sem held for write (so it waits for an
 *                                  invalidation that is calling mirrors) and drops its reference on
 *                                  the hmm; the last one frees the hmm without calling release().
 *                                  v5.3 does not tolerate a second call (list_del of a poisoned
 *                                  entry): here it is a KernelWarning.
 *
 * Model notes: registering a mirror does not sleep here. v5.3 takes mirrors_sem for write, which
 * waits if an invalidation not serialised by mmap_sem (none exists in this model's mm) is calling
 * the other mirrors; the new mirror misses that invalidation either way. A callback returns a
 * number (it does not sleep) or a generator (it may sleep, and must not when `update.blockable` is
 * false — doing so is reported as sleeping in atomic context).
 *
 * @see mm/hmm.c (hmm_mirror_register, hmm_mirror_unregister), include/linux/hmm.h (struct
 *      hmm_mirror, struct hmm_mirror_ops) (Linux v5.3)
 */

import { KernelBug, KernelWarning } from '../../core/assert.js';
import { ArgumentError, EINVAL, ENOMEM } from '../../core/errno.js';
import type { MmStruct } from '../../mm/mm.js';
import type { Task } from '../../sched/index.js';
import { invalState, mirrorList, nameMirror } from './footprint.js';
import { hmmGetOrCreate, hmmPut } from './hmm.js';
import { HmmMirror, type HmmMirrorOps } from './types.js';
import { hmmMachine } from './validity.js';

export { HmmMirror, type HmmMirrorOps };

/** hmm_mirror_register: mmap_sem must be held for write. Returns 0 or -errno. */
export function hmmMirrorRegister(mirror: HmmMirror | null, mm: MmStruct | null): number {
  if (mm !== null) mm.mmapSem.assertHeld('write');
  if (mm === null || mirror === null || !mirror.ops) return -EINVAL;
  if (typeof mirror.ops.syncCpuDevicePagetables !== 'function') {
    throw new ArgumentError('mirror.ops.syncCpuDevicePagetables', 'a mirror must implement it');
  }
  if (mirror.registered) {
    throw new KernelWarning(
      'list_add double add: hmm_mirror_register of a mirror that is already registered',
    );
  }
  const hmm = hmmGetOrCreate(mm, mirror.machine ?? hmmMachine('seed'));
  mirror.hmm = hmm;
  if (hmm === null) return -ENOMEM;
  // __mmu_interval_notifier_insert: "invalidating" if an invalidation is in flight, else an odd
  // value no invalidation of this epoch will match.
  nameMirror(hmm, mirror);
  invalState(hmm, 'write');
  mirrorList(hmm, true);
  mirror.invalidateSeq = hmm.notifiers > 0 ? hmm.seq : hmm.seq - 1;
  const locked = hmm.mirrorsSem.downWriteTrylock();
  hmm.mirrors.unshift(mirror);
  if (locked) hmm.mirrorsSem.upWrite();
  mm.kernel.counters.inc('hmm_mirror_register');
  return 0;
}

/** hmm_mirror_unregister: may sleep on mirrors_sem. A second call is a KernelWarning. */
export function* hmmMirrorUnregister(mirror: HmmMirror): Task {
  const hmm = mirror.hmm;
  if (hmm === null) {
    throw new KernelBug('BUG: hmm_mirror_unregister: mirror was never registered (NULL mirror->hmm)');
  }
  if (!hmm.mirrors.includes(mirror)) throw doubleUnregister();
  yield* hmm.mirrorsSem.downWrite();
  const i = hmm.mirrors.indexOf(mirror);
  if (i < 0) {
    // Someone else unregistered it while we waited for the lock.
    hmm.mirrorsSem.upWrite();
    throw doubleUnregister();
  }
  // the mirror's stamp of the sequence count leaves with it
  invalState(hmm, 'write');
  mirrorList(hmm, true);
  hmm.mirrors.splice(i, 1);
  hmm.mirrorsSem.upWrite();
  hmm.mm.kernel.counters.inc('hmm_mirror_unregister');
  hmmPut(hmm);
}

function doubleUnregister(): KernelWarning {
  return new KernelWarning(
    'WARNING: hmm_mirror_unregister: mirror is not registered (double unregister: v5.3 would list_del a poisoned entry)',
  );
}
