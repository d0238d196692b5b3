/**
 * The driver's migration policy: on a device fault, which pages (if any) to migrate to device
 * memory before mirroring. The document leaves this to the driver ("it is up to the device driver
 * to decide what to migrate", hmm.rst "Migration to and from device memory"); real drivers pick a
 * granularity: nouveau mirrors only, AMD KFD migrates 2^g pages around the fault (g = 9 by
 * default), UVM migrates 64 KiB or 2 MiB blocks (docs/costs.md, "Migration granularity").
 *
 * A policy answers with an aligned range; the driver clips it to the faulting VMA, clamps it to what
 * device memory holds (policyClamp), evicts device pages if memory is short, migrates what it can
 * (best effort: pages migrate_vma skips stay in system memory) and then mirrors the faulting page
 * wherever it is.
 */

import { PAGE_SIZE } from '../core/addr.js';
import { ArgumentError } from '../core/errno.js';

/** What a policy is told about one device fault (one entry of the replayable fault buffer). */
export interface DeviceFaultInfo {
  /** Faulting address (page aligned). */
  readonly addr: number;
  /** The access was a write (the page must end up mapped writable). */
  readonly write: boolean;
}

/** A driver's answer to "what do I migrate to device memory on this fault?" (see the file comment). */
export interface MigrationPolicy {
  /** 'none', 'page' or 'block:k'; shown in summaries and reports. */
  readonly name: string;
  /** [start, end) to migrate to device memory for this fault, or null to mirror only. */
  onDeviceFault(fault: DeviceFaultInfo): {
    /** First byte address of the block (inclusive). */
    start: number;
    /** Byte address just past the block (exclusive). */
    end: number;
  } | null;
}

/** Mirror only: device faults map system memory and nothing moves (nouveau's SVM without dmem). */
export const POLICY_NONE: MigrationPolicy = {
  name: 'none',
  onDeviceFault: () => null,
};

/** Largest block order: 2^18 pages = 1 GiB (KFD's granularity range is wider, but 1 GiB bounds one fault). */
export const POLICY_BLOCK_ORDER_MAX = 18;

/** Migrate the faulting page. */
export const POLICY_PAGE: MigrationPolicy = policyBlock(0);

/** Migrate the naturally aligned block of 2^order pages that holds the faulting page. */
export function policyBlock(order: number): MigrationPolicy {
  if (!Number.isInteger(order) || order < 0 || order > POLICY_BLOCK_ORDER_MAX)
    throw new ArgumentError('order', `expected an integer in 0..${POLICY_BLOCK_ORDER_MAX}, got ${order}`);
  const bytes = 2 ** order * PAGE_SIZE;
  return {
    name: order === 0 ? 'page' : `block:${order}`,
    onDeviceFault: ({ addr }) => {
      const start = Math.floor(addr / bytes) * bytes;
      return { start, end: start + bytes };
    },
  };
}

/** 'none', 'page' or 'block:k' (k in 0..18) to a policy; an ArgumentError naming `argument` otherwise. */
export function parsePolicy(text: string, argument = 'policy'): MigrationPolicy {
  if (text === 'none') return POLICY_NONE;
  if (text === 'page') return POLICY_PAGE;
  const m = /^block:(\d{1,2})$/.exec(text);
  if (m !== null && Number(m[1]) <= POLICY_BLOCK_ORDER_MAX) return policyBlock(Number(m[1]));
  throw new ArgumentError(
    argument,
    `expected 'none', 'page' or 'block:k' with k in 0..${POLICY_BLOCK_ORDER_MAX}, got '${text}'`,
  );
}

/** A policy object, or its name; ArgumentError naming `policy` otherwise. */
export function checkPolicy(p: string | MigrationPolicy): MigrationPolicy {
  if (typeof p === 'string') return parsePolicy(p, 'policy');
  if (
    p === null ||
    typeof p !== 'object' ||
    typeof p.onDeviceFault !== 'function' ||
    typeof p.name !== 'string'
  )
    throw new ArgumentError('policy', "expected 'none', 'page', 'block:k' or a MigrationPolicy object");
  return p;
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
): {
  /** First byte address of the clamped block (inclusive). */
  start: number;
  /** Byte address just past the clamped block (exclusive). */
  end: number;
} | null {
  const pages = policyClampPages(memoryPages);
  if ((end - start) / PAGE_SIZE <= pages) return null;
  const bytes = pages * PAGE_SIZE;
  const lo = Math.floor(addr / bytes) * bytes;
  return { start: Math.max(start, lo), end: Math.min(end, lo + bytes) };
}
