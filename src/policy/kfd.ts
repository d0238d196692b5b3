/**
 * The KFD SVM policy: AMD's amdkfd driver's decisions (kfd_svm.c, kfd_migrate.c). An address belongs
 * to an SVM range: one the user registered with attributes (setAttributes, the AMDKFD_IOC_SVM
 * SET_ATTR ioctl), split into pieces of at most max_svm_range_pages (VRAM/32, a power of two in
 * [2 MiB, 1 GiB]); or, unregistered, the 2 MiB window around it clipped to its VMA
 * (svm_range_create_unregistered_range).
 *   - XNACK on (retry faults, the default): a device fault migrates the 2^granularity-page aligned
 *     granule around it, clipped to its range, to the best restore location: the range's preferred
 *     location if set (system memory: the page is mapped where it is), else the device
 *     (svm_range_restore_pages, svm_range_best_restore_location).
 *   - XNACK off (no retry): memory must be mapped before queues run; an invalidation evicts the
 *     process's queues (svm_range_evict) and the restore worker, AMDGPU_SVM_RANGE_RESTORE_DELAY_MS =
 *     1 ms later, revalidates and maps every invalid range whole (svm_range_restore_work). hmmsim's
 *     device raises a fault where the mapping is missing, so each fault batch under XNACK off stands
 *     for one queue eviction: the device stalls for the restore delay and the ranges of its faults are
 *     mapped whole, in place (migrated only if the range's prefetch or preferred location is the
 *     device, as SET_ATTR would have done).
 *   - A range's prefetch location set to the device migrates the whole range: SET_ATTR does it at
 *     once; here at the next fault batch (the policy cannot move pages on its own).
 *
 * Divergences: the 2 ms "already restored" retry-fault filter (AMDGPU_SVM_RANGE_RETRY_FAULT_PENDING)
 * is not modelled (hmmsim's faults are not spurious); eviction is the engine's least-recently-
 * allocated pages, not TTM's BO LRU (docs/policies.md).
 *
 * @see drivers/gpu/drm/amd/amdkfd/kfd_svm.c (svm_range_restore_pages, svm_range_evict,
 *      svm_range_restore_work, svm_range_set_max_pages) and kfd_migrate.c (Linux v6.19)
 */

import { hex, PAGE_SIZE } from '../core/addr.js';
import { ArgumentError } from '../core/errno.js';
import type {
  FaultBatchInfo,
  MigrationPolicy,
  PlannedMap,
  PlannedRemote,
  PolicyPlan,
  PolicyRange,
} from './policy.js';
import { policyStats } from './stats.js';

/** AMDGPU_SVM_RANGE_RESTORE_DELAY_MS = 1, in µs. */
export const KFD_RESTORE_DELAY_US = 1000;
/** The granularity of a new range (svm_range_set_default_attributes): 2^9 pages = 2 MiB. */
export const KFD_GRANULARITY_DEFAULT = 9;
/** An unregistered range is the 2 MiB window around the fault (ALIGN_DOWN(addr, 2UL << 8) pages). */
const UNREGISTERED_PAGES = 512;

/** Where a range prefers its pages: system memory or this device. */
export type KfdLocation = 'sysmem' | 'gpu';

/** A range's attributes (KFD_IOCTL_SVM_ATTR_*); unset ones are undefined. */
export interface KfdAttributes {
  /** PREFERRED_LOC. */
  preferredLoc?: KfdLocation;
  /** PREFETCH_LOC: the device migrates the whole range. */
  prefetchLoc?: KfdLocation;
  /** GRANULARITY: log2 pages migrated per fault. */
  granularity?: number;
}

/** The KFD policy's parameters (`kfd:granularity=4,xnack=off`). */
export interface KfdParams {
  /** Default granularity (log2 pages, 0..18; 9). */
  granularity: number;
  /** Retry faults (true, the default) or not. */
  xnack: boolean;
  /** The restore worker's delay in µs (1000). */
  restoreDelayUs: number;
}

/** The KFD policy: a MigrationPolicy plus SET_ATTR on ranges. */
export interface KfdPolicy extends MigrationPolicy {
  /** Its parameters. */
  readonly params: Readonly<KfdParams>;
  /** AMDKFD_IOC_SVM SET_ATTR on [start, end) (page aligned): registers it as a range with these attributes. */
  setAttributes(start: number, end: number, attrs: KfdAttributes): void;
}

interface Registered extends PolicyRange, KfdAttributes {
  prefetchPending: boolean;
}

/** svm_range_set_max_pages: VRAM/32 pages, a power of two clamped to [2 MiB, 1 GiB]. */
export function kfdMaxRangePages(devicePages: number): number {
  const p = 2 ** Math.floor(Math.log2(Math.max(1, Math.floor(devicePages / 32))));
  return Math.min(Math.max(p, 512), 262_144);
}

/** Makes a KFD policy (see the file comment). */
export function kfdPolicy(name: string, params: KfdParams): KfdPolicy {
  const ranges: Registered[] = [];

  /** The registered range holding addr, or null. */
  const registered = (addr: number): Registered | null => {
    for (let i = ranges.length - 1; i >= 0; i--) {
      const r = ranges[i] as Registered;
      if (addr >= r.start && addr < r.end) return r;
    }
    return null;
  };

  /** The prange holding addr: a max-pages piece of a registered range, or the unregistered window. */
  const prange = (batch: FaultBatchInfo, addr: number): PolicyRange | null => {
    const vma = batch.vma(addr);
    if (vma === null) return null;
    const r = registered(addr);
    const pieceBytes = (r === null ? UNREGISTERED_PAGES : kfdMaxRangePages(batch.devicePages)) * PAGE_SIZE;
    const lo = Math.floor(addr / pieceBytes) * pieceBytes;
    const outer = r ?? vma;
    return {
      start: Math.max(lo, outer.start, vma.start),
      end: Math.min(lo + pieceBytes, outer.end, vma.end),
    };
  };

  function xnackOn(batch: FaultBatchInfo, plan: PolicyPlan): void {
    const remote: PlannedRemote[] = [];
    for (const f of batch.faults) {
      const range = prange(batch, f.addr);
      if (range === null) continue;
      const r = registered(f.addr);
      if (r?.preferredLoc === 'sysmem') {
        remote.push({ addr: f.addr, reason: 'preferred location is system memory: mapped in place' });
        continue;
      }
      const g = r?.granularity ?? params.granularity;
      const bytes = 2 ** g * PAGE_SIZE;
      const lo = Math.floor(f.addr / bytes) * bytes;
      const start = Math.max(lo, range.start);
      const end = Math.min(lo + bytes, range.end);
      plan.migrate.push({
        start,
        end,
        addr: f.addr,
        cause: 'fault',
        reason: `retry fault: granule 2^${g} pages [${hex(lo)}, ${hex(lo + bytes)}) within range [${hex(range.start)}, ${hex(range.end)})`,
      });
    }
    if (remote.length > 0) plan.remote = remote;
  }

  function xnackOff(batch: FaultBatchInfo, plan: PolicyPlan): void {
    plan.stall = {
      us: params.restoreDelayUs,
      reason: `XNACK off: an invalidation evicted the queues; the restore worker runs ${params.restoreDelayUs} µs later`,
    };
    policyStats(policy).queueRestores++;
    const map: PlannedMap[] = [];
    for (const f of batch.faults) {
      const range = prange(batch, f.addr);
      if (range === null || map.some((m) => m.start === range.start)) continue;
      const r = registered(f.addr);
      if (r?.preferredLoc === 'gpu' || r?.prefetchLoc === 'gpu')
        plan.migrate.push({
          ...range,
          addr: f.addr,
          cause: 'fault',
          reason: `restore: range's ${r.prefetchLoc === 'gpu' ? 'prefetch' : 'preferred'} location is the device`,
        });
      map.push({ ...range, reason: 'restore worker: the whole range revalidated and mapped' });
    }
    plan.map = map;
  }

  /** Pending PREFETCH_LOC = device migrations, done at this batch. */
  function prefetches(plan: PolicyPlan): void {
    for (const r of ranges)
      if (r.prefetchPending) {
        r.prefetchPending = false;
        plan.migrate.push({
          start: r.start,
          end: r.end,
          addr: r.start,
          cause: 'prefetch',
          reason: 'PREFETCH_LOC attribute: the whole range to the device',
        });
      }
  }

  const policy: KfdPolicy = {
    name,
    params,
    onDeviceFault: ({ addr }) => {
      const bytes = 2 ** params.granularity * PAGE_SIZE;
      const start = Math.floor(addr / bytes) * bytes;
      return { start, end: start + bytes };
    },
    onFaultBatch(batch) {
      const plan: PolicyPlan = { migrate: [] };
      prefetches(plan);
      if (params.xnack) xnackOn(batch, plan);
      else xnackOff(batch, plan);
      return plan;
    },
    setAttributes(start, end, attrs) {
      if (!Number.isSafeInteger(start) || start < 0 || start % PAGE_SIZE !== 0)
        throw new ArgumentError('start', `expected a page-aligned address, got ${start}`);
      if (!Number.isSafeInteger(end) || end <= start || end % PAGE_SIZE !== 0)
        throw new ArgumentError('end', `expected a page-aligned address above start, got ${end}`);
      const g = attrs.granularity;
      if (g !== undefined && (!Number.isInteger(g) || g < 0 || g > 18))
        throw new ArgumentError('granularity', `expected an integer in 0..18, got ${g}`);
      for (const k of ['preferredLoc', 'prefetchLoc'] as const)
        if (attrs[k] !== undefined && attrs[k] !== 'sysmem' && attrs[k] !== 'gpu')
          throw new ArgumentError(k, `expected 'sysmem' or 'gpu', got ${String(attrs[k])}`);
      ranges.push({ start, end, ...attrs, prefetchPending: attrs.prefetchLoc === 'gpu' });
    },
  };
  return policy;
}
