/**
 * The driver's migration policy: what a GPU driver decides above the HMM API — which pages move to
 * device memory on a device fault, what to prefetch with them, which device pages to evict when
 * memory is short, and what to do about pages that bounce between CPU and device. The document
 * leaves this to the driver ("it is up to the device driver to decide what to migrate", hmm.rst
 * "Migration to and from device memory"); real drivers differ: nouveau mirrors only, AMD KFD
 * migrates 2^g pages around the fault, UVM migrates 64 KiB big pages grown by its density
 * prefetcher (docs/policies.md, docs/costs.md). The policy never sees which API generation serves
 * it: the svm engine (src/drivers/svm) asks it on both.
 *
 * A policy is ONE object. Only `name` and `onDeviceFault` are required (today's interface: a policy
 * answers each fault with an aligned range, or null to mirror only); everything else is optional
 * and the engine falls back to what it did before when a hook is absent:
 *   - `onFaultBatch(batch)`: the whole de-duplicated fault batch at once (UVM services a batch per
 *     VA block); its plan replaces the per-fault `onDeviceFault` calls for that batch. A plan lists
 *     ranges to migrate (each with its cause, 'fault' or 'prefetch', and a reason), pages whose
 *     faults are throttled (left unserviced until a time on the device clock: UVM's nap), pages to
 *     map remotely (mirror without migrating: UVM's pin in system memory), whole ranges to map
 *     (KFD's restore worker with XNACK off) and a stall charged to the device clock;
 *   - `chooseVictims(request)`: which device pages to evict when a migration needs room (UVM's root
 *     chunks); absent, the least recently allocated pages go, page by page; an empty answer means no
 *     eviction (nouveau), so the migration moves fewer pages;
 *   - `onMigrated(event)`, `onCpuFault(event)`: what moved (pages, pfns, cause) and CPU faults on the
 *     device's pages (the kernel migrates those back), with the device clock's time: the
 *     thrashing detector's input;
 *   - `onRemoteAccess(vpn)` and `onAccessCounters(info)`: each device access to a page of system
 *     memory the device maps remotely (UVM's access counters count them); when the first answers
 *     true a notification is pending, and the driver's fault handler asks the second for its plan
 *     (a batch with no faults) before its next batch, or before it ends.
 * The engine clips every range to the faulting VMA and to what device memory holds (policyClamp),
 * migrates best effort (pages migrate_vma skips stay in system memory) and then mirrors what is
 * still unmapped. Every decision goes on the machine's trace with its reason (trace.ts), and the
 * engine counts them in the policy's stats (stats.ts).
 *
 * A policy's state (UVM's trees and counters, KFD's attributes) belongs to the device file it was
 * given to: parsePolicy makes a fresh object each call; share one object between files only if it
 * keeps no state.
 */

import { PAGE_SIZE } from '../core/addr.js';

/** What a policy is told about one device fault (one entry of the replayable fault buffer). */
export interface DeviceFaultInfo {
  /** Faulting address (page aligned). */
  readonly addr: number;
  /** The access was a write (the page must end up mapped writable). */
  readonly write: boolean;
}

/** An address range [start, end), page aligned. */
export interface PolicyRange {
  /** First byte address (inclusive). */
  start: number;
  /** Byte address just past the range (exclusive). */
  end: number;
}

/** What a policy sees of one fault batch (after sorting by address and dropping duplicates). */
export interface FaultBatchInfo {
  /** The device clock (µs) when the batch is serviced. */
  readonly nowUs: number;
  /** One entry per faulting page, by address, writes first. */
  readonly faults: readonly DeviceFaultInfo[];
  /** Pages of device memory. */
  readonly devicePages: number;
  /** Whether the page at `vpn` is in this device's memory now. */
  resident(vpn: number): boolean;
  /** The VMA holding `addr`, or null (a fault there is cancelled). */
  vma(addr: number): PolicyRange | null;
}

/**
 * Why a range is migrated: the faulting pages, pages a prefetcher added around them, or pages an
 * access-counter notification asked for.
 */
export type MigrationCause = 'fault' | 'prefetch' | 'access-counter';

/** One range a plan migrates to device memory. */
export interface PlannedMigration extends PolicyRange {
  /** The fault that asked for it (page aligned). */
  addr: number;
  /** Faulting pages or prefetched ones (prefetch accuracy is counted on the latter). */
  cause: MigrationCause;
  /** Why, in words, for the trace (e.g. "subtree [a, b) 63% faulted > 51%"). */
  reason: string;
}

/** A page whose faults are not serviced this batch (UVM's throttle). */
export interface PlannedThrottle {
  /** The page (page aligned). */
  addr: number;
  /** The device clock (µs) until which the device waits for it. */
  untilUs: number;
  /** Why, in words. */
  reason: string;
}

/** A page mapped where it is (system memory) instead of migrated. */
export interface PlannedRemote {
  /** The page (page aligned). */
  addr: number;
  /** Why, in words. */
  reason: string;
}

/** A thrashing page pinned: remote ones are also in the plan's `remote`, local ones in `migrate`. */
export interface PlannedPin extends PlannedRemote {
  /** Pinned in system memory and mapped remotely (true), or on the device (false). */
  remote: boolean;
}

/** A whole range mirrored at once, with the VMA's write permission (a revalidated range). */
export interface PlannedMap extends PolicyRange {
  /** Why, in words. */
  reason: string;
}

/** Time the device is stalled before the batch is serviced. */
export interface PlannedStall {
  /** How long, µs of device clock. */
  us: number;
  /** Why, in words. */
  reason: string;
}

/** What a policy decides for one batch (see the file comment). */
export interface PolicyPlan {
  /** Ranges to migrate, in order; each must hold `addr`. */
  migrate: PlannedMigration[];
  /** Pages whose faults are not serviced this batch. */
  throttle?: PlannedThrottle[];
  /** Pages mapped where they are instead of migrated. */
  remote?: PlannedRemote[];
  /** Thrashing pages pinned. */
  pin?: PlannedPin[];
  /** Whole ranges mirrored at once. */
  map?: PlannedMap[];
  /** A stall before the batch is serviced (e.g. a queue restore delay). */
  stall?: PlannedStall;
}

/** A page that moved: its virtual page and the device frame (the source when leaving the device). */
export interface MovedPage {
  /** Virtual page number (address / PAGE_SIZE). */
  readonly vpn: number;
  /** Device page frame. */
  readonly pfn: number;
}

/** A device page the engine could evict: where it lives and what it backs. */
export interface VictimCandidate {
  /** Device page frame. */
  readonly pfn: number;
  /** Virtual page it backs in its owner's mm. */
  readonly vpn: number;
  /** The page backs the faulting batch's blocks: evicting it would undo this batch. */
  readonly protected: boolean;
}

/** A request for room in device memory. */
export interface VictimRequest {
  /** Device pages needed beyond the free ones. */
  readonly need: number;
  /** The device clock (µs). */
  readonly nowUs: number;
  /** Whether `pfn` is a live placement of this engine and, if so, what it backs. */
  candidate(pfn: number): VictimCandidate | null;
  /** Live placements, least recently allocated first (for policies that rank pages). */
  leastRecentlyAllocated(): Iterable<VictimCandidate>;
}

/** A group of victims chosen together, with the reason the trace shows. */
export interface VictimChoice {
  /** Device page frames to evict (unprotected live ones; others are ignored). */
  pfns: number[];
  /** Why these (e.g. "root chunk 3, LRU position 0"). */
  reason: string;
}

/** Pages that moved, and why: the input of a thrashing detector. */
export interface MigrationEvent {
  /** True: system → device; false: device → system. */
  readonly toDevice: boolean;
  /** 'fault' / 'prefetch' (the engine's), 'eviction', 'cpu-fault'. */
  readonly cause: MigrationCause | 'eviction' | 'cpu-fault';
  /** The device clock (µs). */
  readonly nowUs: number;
  /** The pages that moved. */
  readonly pages: readonly MovedPage[];
}

/** Something a policy concluded on its own (not an answer to the engine), for the trace. */
export interface PolicyNote {
  /** 'thrashing': the page at `addr` was detected thrashing. */
  readonly kind: 'thrashing';
  /** The page (page aligned). */
  readonly addr: number;
  /** Why, in words. */
  readonly reason: string;
}

/** A CPU access faulted on one of the device's pages; the kernel migrates it back to system memory. */
export interface CpuFaultEvent {
  /** Faulting address (page aligned). */
  readonly addr: number;
  /** The device frame the page was in. */
  readonly pfn: number;
  /** The device clock (µs). */
  readonly nowUs: number;
}

/** A driver's migration policy (see the file comment: only `name` and `onDeviceFault` are required). */
export interface MigrationPolicy {
  /** 'none', 'page', 'block:k', 'uvm', 'kfd', 'nouveau' (with parameters) or a user's name. */
  readonly name: string;
  /** [start, end) to migrate to device memory for this fault, or null to mirror only. */
  onDeviceFault(fault: DeviceFaultInfo): PolicyRange | null;
  /** The whole batch at once; when present, `onDeviceFault` is not called for the batch. */
  onFaultBatch?(batch: FaultBatchInfo): PolicyPlan;
  /** Victims for a migration short of room; absent: least recently allocated pages. */
  chooseVictims?(request: VictimRequest): VictimChoice[];
  /** Pages moved to or from this device; what the policy concluded from it goes on the trace. */
  onMigrated?(event: MigrationEvent): readonly PolicyNote[] | undefined;
  /** A CPU fault on one of this device's pages (before it is migrated back). */
  onCpuFault?(event: CpuFaultEvent): void;
  /** A device access to the system-memory page `vpn` it maps remotely; true: a notification is pending. */
  onRemoteAccess?(vpn: number): boolean;
  /** The plan for the pending notifications (`info.faults` is empty); see the file comment. */
  onAccessCounters?(info: FaultBatchInfo): PolicyPlan;
}

/**
 * The most pages one fault may migrate on a device of `memoryPages` pages: the largest power of two
 * that fits. A block larger than device memory would evict what it just migrated (the fault's own
 * page included) and fault again, forever. Real drivers never ask for more than fits: UVM migrates
 * within one 2 MiB VA block per fault service (uvm_va_block.c), and KFD splits SVM ranges to at most
 * VRAM/32 pages (svm_range_set_max_pages) and migrates the faulting granule within its range
 * (svm_range_restore_pages); see docs/costs.md.
 *
 * @see drivers/gpu/drm/amd/amdkfd/kfd_svm.c (svm_range_set_max_pages, svm_range_restore_pages) (Linux v6.8)
 */
export function policyClampPages(memoryPages: number): number {
  return 2 ** Math.floor(Math.log2(memoryPages));
}

/**
 * [start, end) (holding `addr`) clamped to the naturally aligned block of policyClampPages pages
 * around `addr`, or null when it already fits.
 */
export function policyClamp(
  start: number,
  end: number,
  addr: number,
  memoryPages: number,
): PolicyRange | null {
  const pages = policyClampPages(memoryPages);
  if ((end - start) / PAGE_SIZE <= pages) return null;
  const bytes = pages * PAGE_SIZE;
  const lo = Math.floor(addr / bytes) * bytes;
  return { start: Math.max(start, lo), end: Math.min(end, lo + bytes) };
}

// The simple policies live in block.ts and policies by name in parse.ts (they import this file's types only).
export { POLICY_BLOCK_ORDER_MAX, POLICY_NONE, POLICY_PAGE, policyBlock } from './block.js';
export { checkPolicy, checkPolicyObject, parsePolicy } from './parse.js';
