/**
 * Shared setup for today's hmm_range_fault: a process with an interval notifier over its whole
 * address space whose invalidate stores the sequence (as test_hmm's does), ranges on it, and the
 * call made the way drivers make it (mmap_lock held for read around it).
 */

import { TASK_SIZE } from '../../../src/core/addr.js';
import { type HmmRange, hmmRangeFault } from '../../../src/hmm/modern/index.js';
import {
  MmuIntervalNotifier,
  mmuIntervalNotifierInsert,
  mmuIntervalReadBegin,
  mmuIntervalSetSeq,
} from '../../../src/mm/mmu_interval_notifier.js';
import type { MmuNotifierRange } from '../../../src/mm/mmu_notifier.js';
import { Simulator, type SimulatorOptions } from '../../../src/sim/simulator.js';
import { type StubDevice, stubDevice, type World, withMmapRead } from '../helpers.js';

export interface ModernWorld extends World {
  sub: MmuIntervalNotifier;
  /** The invalidations the notifier saw, as `event [start,end)` in hex. */
  invalidations: MmuNotifierRange[];
}

/** A machine, a process and an interval notifier over [0, TASK_SIZE + PAGE). */
export function modernWorld(opts: SimulatorOptions = {}): ModernWorld {
  const sim = new Simulator({ ramPages: 8192, devices: [], ...opts });
  const p = sim.createProcess();
  const sub = new MmuIntervalNotifier();
  const invalidations: MmuNotifierRange[] = [];
  const ret = sim.run(
    'insert',
    mmuIntervalNotifierInsert(sub, p.mm, 0, TASK_SIZE + 4096, {
      invalidate(s, range, curSeq) {
        invalidations.push(range);
        mmuIntervalSetSeq(s, curSeq);
        return true;
      },
    }),
  );
  if (ret !== 0) throw new Error(`insert: ${ret}`);
  return { sim, p, mm: p.mm, sub, invalidations };
}

/** mmu_interval_read_begin on the world's notifier. */
export function readBegin(w: ModernWorld): number {
  return w.sim.run('read_begin', mmuIntervalReadBegin(w.sub));
}

/** A range of npages at start with a fresh sequence; entries 0, nothing requested, no owner. */
export function newRange(
  w: ModernWorld,
  start: number,
  npages: number,
  init: Partial<HmmRange> = {},
): HmmRange {
  return {
    notifier: w.sub,
    notifierSeq: readBegin(w),
    start,
    end: start + npages * 4096,
    hmmPfns: new Float64Array(npages),
    defaultFlags: 0,
    pfnFlagsMask: 0,
    devPrivateOwner: null,
    ...init,
  };
}

/** mmap_read_lock; hmm_range_fault; mmap_read_unlock. */
export function fault(w: ModernWorld, range: HmmRange): number {
  return w.sim.run(
    'hmm_range_fault',
    withMmapRead(w.mm, () => hmmRangeFault(range)),
  );
}

/** The entries as a plain array, for toEqual. */
export function out(range: HmmRange): number[] {
  return [...range.hmmPfns];
}

/** A private device region whose pgmap owner is `owner` (stubDevice's migrate_to_ram). */
export function ownedDevice(w: World, owner: unknown, npages = 16): StubDevice {
  const dev = stubDevice(w, npages);
  Object.assign(dev.pgmap, { owner });
  return dev;
}

/** The pfn the CPU maps at addr. */
export function pfnAt(w: World, addr: number): number {
  return w.p.pte(addr).pfn;
}
