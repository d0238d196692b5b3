/**
 * The structs of the seed HMM API in one place, as Linux keeps them in include/linux/hmm.h: struct
 * hmm (per mm), hmm_mirror and its ops, hmm_range, hmm_update, and this model's per-machine HMM
 * settings (HmmMachine: the range-validity strategy and the event stream). The functions
 * that act on them live in hmm.ts, mirror.ts, range.ts and walk.ts, which all import this file and
 * none of which imports another's structs, so there is no import loop inside hmm/.
 *
 * @see include/linux/hmm.h (Linux v5.3: struct hmm, struct hmm_mirror, struct hmm_mirror_ops,
 *      struct hmm_range, enum hmm_update_event, struct hmm_update)
 */

import { PAGE_SHIFT } from '../../core/addr.js';
import { ArgumentError } from '../../core/errno.js';
import type { Tracepoints } from '../../core/trace.js';
import type { MmStruct } from '../../mm/mm.js';
import {
  type MaybeTask,
  MmuNotifier,
  type MmuNotifierOps,
  type MmuNotifierRange,
} from '../../mm/mmu_notifier.js';
import type { Vma } from '../../mm/vma.js';
import type { Task } from '../../sched/index.js';
import { RwSem, SpinLock, WaitQueue } from '../../sched/index.js';
import { checkRangeTables, type HmmEntryTables } from './entry.js';
import { type HmmDporNames, mirrorList } from './footprint.js';

/** enum hmm_update_event: the only value. */
export const HMM_UPDATE_INVALIDATE = 0;

/**
 * struct hmm_update: the range a mirror's sync_cpu_device_pagetables must invalidate.
 * @see include/linux/hmm.h (Linux v5.3)
 */
export interface HmmUpdate {
  /** Virtual start address of the range to update (inclusive). */
  readonly start: number;
  /** Virtual end address of the range to update (exclusive). */
  readonly end: number;
  /** HMM_UPDATE_INVALIDATE. */
  readonly event: number;
  /** mmu_notifier_range_blockable(): false only for the OOM reaper. */
  readonly blockable: boolean;
}

/** How range validity is tracked: v5.3's range->valid, or v5.5's sequence count (file comment). */
export type HmmProtocol = 'seed' | 'seq';

/**
 * The tracepoints HMM emits on its machine's stream (HmmMachine.trace), for the checkers and the
 * explorer's trace: observation only, never consulted.
 */
export interface HmmTracepoints {
  /** hmm_range_valid(range) is being called by the current thread. */
  hmm_range_valid: {
    /** The range being checked. */
    readonly range: HmmRange;
  };
  /** A mirror callback is about to run on the current thread. */
  hmm_mirror_callback: {
    /** The mirror whose callback runs. */
    readonly mirror: HmmMirror;
    /** Which of its HmmMirrorOps callbacks. */
    readonly callback: 'sync_cpu_device_pagetables' | 'release';
  };
  /** An invalidation of hmm.mm starts (after it is recorded in hmm.inflight). */
  mmu_notifier_invalidate_range_start: {
    /** The per-mm HMM state being invalidated. */
    readonly hmm: Hmm;
    /** The range invalidated. */
    readonly range: MmuNotifierRange;
  };
  /** An invalidation of hmm.mm ends (after it left hmm.inflight). */
  mmu_notifier_invalidate_range_end: {
    /** The per-mm HMM state being invalidated. */
    readonly hmm: Hmm;
    /** The range whose invalidation ended. */
    readonly range: MmuNotifierRange;
  };
}

/** struct hmm_mirror_ops. */
export interface HmmMirrorOps {
  /**
   * The mm is being torn down (exit_mmap). Must stop all access to pages obtained through this
   * mirror before returning; all later access should fault. Runs under mirrors_sem held for read:
   * must not call hmmMirrorUnregister().
   */
  release?(mirror: HmmMirror): MaybeTask<void>;
  /**
   * Invalidate the device page table for [update.start, update.end) before returning. Return 0,
   * or -EAGAIN only if `update.blockable` is false and the callback would need to sleep.
   */
  syncCpuDevicePagetables(mirror: HmmMirror, update: HmmUpdate): MaybeTask<number>;
}

/** struct hmm_mirror. A driver embeds one (or extends the class) per mirrored mm. */
export class HmmMirror {
  /** The per-mm hmm, set by hmmMirrorRegister (kept after unregister, as v5.3 does). */
  hmm: Hmm | null = null;
  /** The driver's callbacks (null for a mirror used only to look). */
  readonly ops: HmmMirrorOps | null;
  /**
   * Protocol 'seq': interval_sub->invalidate_seq of the mirror's interval notifier (the whole
   * address space), stamped with hmm.seq by every invalidation that starts. Unused with 'seed'.
   */
  invalidateSeq = 0;
  /** The machine's HMM settings the mirror's hmm takes if this mirror creates it (null: 'seed', a stream of its own). */
  readonly machine: HmmMachine | null;
  /** @internal Its name for partial-order reduction, '' until it first registers (footprint.ts nameMirror). */
  dporName = '';

  constructor(ops: HmmMirrorOps | null, machine: HmmMachine | null = null) {
    this.ops = ops;
    this.machine = machine;
  }

  /** True while the mirror is on its hmm's list (registered and not yet unregistered). */
  get registered(): boolean {
    if (this.hmm !== null) mirrorList(this.hmm, false);
    return this.hmm?.mirrors.includes(this) === true;
  }
}

/** What a driver fills in to describe an hmm_range before hmm_range_register (v5.3). */
export interface HmmRangeInit {
  /** First address (inclusive, page aligned). */
  start?: number;
  /** End address (exclusive, page aligned). */
  end?: number;
  /** One entry per page: the request on input, the result on output. */
  pfns: Float64Array;
  /** The driver's bit for HMM_PFN_VALID, HMM_PFN_WRITE, HMM_PFN_DEVICE_PRIVATE. */
  flags: readonly number[];
  /** The driver's value for HMM_PFN_ERROR, HMM_PFN_NONE, HMM_PFN_SPECIAL. */
  values: readonly number[];
  /** Bits the pfn is shifted left by in each entry, above the driver's flag bits. */
  pfnShift: number;
  /** Flags requested for every page (e.g. the driver's valid and write bits). */
  defaultFlags?: number;
  /** Which bits of each pfns[] entry count as per-page requests. */
  pfnFlagsMask?: number;
  /** Page size of the range's entries (PAGE_SHIFT, or a huge-page shift). */
  pageShift?: number;
}

/** struct hmm_range. */
export class HmmRange implements HmmEntryTables {
  /** Set by hmmRangeRegister; null before (and after a failed register). */
  hmm: Hmm | null = null;
  /** hmm_range_unregister poisoned range->hmm: using the range again is a bug. */
  poisoned = false;
  /** The VMA being walked (set by snapshot/fault). */
  vma: Vma | null = null;
  /** First address (inclusive, page aligned). */
  start: number;
  /** End address (exclusive, page aligned). */
  end: number;
  /** One entry per page: the request on input, the result on output. */
  pfns: Float64Array;
  /** The driver's bit for HMM_PFN_VALID, HMM_PFN_WRITE, HMM_PFN_DEVICE_PRIVATE. */
  flags: number[];
  /** The driver's value for HMM_PFN_ERROR, HMM_PFN_NONE, HMM_PFN_SPECIAL. */
  values: number[];
  /** Flags requested for every page. */
  defaultFlags: number;
  /** Which bits of each pfns[] entry count as per-page requests. */
  pfnFlagsMask: number;
  /** Page size of the range's entries. */
  pageShift: number;
  /** Bits the pfn is shifted left by in each entry. */
  pfnShift: number;
  /** No invalidation overlapping this range is in flight (see hmm.ts). */
  valid = false;
  /** The mirror it was registered through (set by hmmRangeRegister). */
  mirror: HmmMirror | null = null;
  /** Protocol 'seq': range->notifier_seq, the sequence read by mmu_interval_read_begin (-1: none). */
  notifierSeq = -1;

  constructor(init: HmmRangeInit) {
    if (!(init.pfns instanceof Float64Array))
      throw new ArgumentError('range.pfns', 'expected a Float64Array');
    this.start = init.start ?? 0;
    this.end = init.end ?? 0;
    this.pfns = init.pfns;
    this.flags = [...init.flags];
    this.values = [...init.values];
    this.pfnShift = init.pfnShift;
    this.defaultFlags = init.defaultFlags ?? 0;
    this.pfnFlagsMask = init.pfnFlagsMask ?? 0;
    this.pageShift = init.pageShift ?? PAGE_SHIFT;
    checkRangeTables(this);
  }

  /** Entries in [start, end): (end - start) >> pageShift. */
  get npages(): number {
    return Math.floor((this.end - this.start) / 2 ** this.pageShift);
  }

  /** True between a successful hmmRangeRegister and hmmRangeUnregister. */
  get registered(): boolean {
    return this.hmm !== null && !this.poisoned;
  }
}

/**
 * How range validity is tracked, chosen once per hmm struct (validity.ts has the two): every
 * protocol-dependent step of hmm.ts and range.ts is one call here.
 */
export interface RangeValidity {
  /** Which protocol this strategy implements. */
  readonly protocol: HmmProtocol;
  /** invalidate_range_start, under ranges_lock, after notifiers++. */
  invalidateStart(hmm: Hmm): void;
  /** The last invalidation in flight ended (notifiers reached 0), under ranges_lock. */
  invalidateEnd(hmm: Hmm): void;
  /** hmm_range_register, under ranges_lock, after range.valid is set. */
  register(range: HmmRange, mirror: HmmMirror, hmm: Hmm): void;
  /** Whether a registered, unpoisoned range is still current (hmm_range_valid; the walkers' -EBUSY test). */
  current(range: HmmRange): boolean;
  /** hmm_range_wait_until_valid: true if the range is (or becomes) valid within timeoutNs. */
  waitUntilValid(range: HmmRange, hmm: Hmm, timeoutNs: number): Task<boolean>;
}

/**
 * One machine's HMM settings, owned by whoever builds the machine (the Simulator) and passed down
 * to every mirror it registers (HmmMirror's constructor); the hmm struct of an mm takes the one of
 * its first mirror.
 */
export interface HmmMachine {
  /** How ranges registered on this machine track validity. */
  readonly validity: RangeValidity;
  /** The machine's event stream (core/trace.ts): where HmmTracepoints are emitted. */
  readonly trace: Tracepoints<HmmTracepoints>;
}

/** The notifier callbacks of a struct hmm (hmm.ts), given to its constructor. */
export type HmmNotifierOps = (hmm: Hmm) => MmuNotifierOps;

/**
 * struct hmm: HMM's per-mm state, shared by every mirror of that mm.
 * @see include/linux/hmm.h (Linux v5.3)
 */
export class Hmm {
  /** The address space it mirrors. */
  readonly mm: MmStruct;
  /** The machine's settings, from the mirror that created this hmm. */
  readonly machine: HmmMachine;
  /** 'seq': subscriptions->invalidate_seq, odd while an invalidation is in flight. */
  seq = 2;
  /** The invalidations in flight, oldest first: observation only (the checkers read it). */
  readonly inflight: MmuNotifierRange[] = [];
  /** kref: mirrors and ranges hold one each. 0 = freed. */
  kref = 1;
  /** hmm->mirrors, newest first. */
  readonly mirrors: HmmMirror[] = [];
  /** hmm->mirrors_sem: protects `mirrors` and orders mirror callbacks against unregister. */
  readonly mirrorsSem = new RwSem('hmm->mirrors_sem');
  /** hmm->ranges, newest first. */
  readonly ranges: HmmRange[] = [];
  /** @internal Partial-order reduction's names of the mirrors and ranges (footprint.ts), from the first registration. */
  dporNames: HmmDporNames | null = null;
  /**
   * hmm->ranges_lock: protects `ranges`, `valid` flags and `notifiers`. Partial-order reduction
   * sees the data, not the lock (footprint.ts).
   */
  readonly rangesLock = new SpinLock('hmm->ranges_lock').recordedByData();
  /** hmm->wq: where hmm_range_wait_until_valid sleeps until invalidations end. */
  readonly wq = new WaitQueue('hmm->wq');
  /** Invalidations in flight on this mm. */
  notifiers = 0;
  /** The mmu_notifier hmm registers on the mm to hear of invalidations. */
  readonly mmuNotifier: MmuNotifier;

  constructor(mm: MmStruct, machine: HmmMachine, ops: HmmNotifierOps) {
    this.mm = mm;
    this.machine = machine;
    this.mmuNotifier = new MmuNotifier(ops(this));
  }

  /** Range-validity strategy: the machine's, fixed when the machine was built. */
  get validity(): RangeValidity {
    return this.machine.validity;
  }

  /** A one-line summary for messages and deadlock reports. */
  toString(): string {
    return `hmm(mm ${this.mm.id}, ${this.mirrors.length} mirrors, ${this.ranges.length} ranges, notifiers ${this.notifiers})`;
  }
}
