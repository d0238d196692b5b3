/**
 * The simple policies: mirror only ('none'), and migrate the naturally aligned block of 2^k pages
 * around each fault ('page' = block:0, 'block:k').
 */

import { PAGE_SIZE } from '../core/addr.js';
import { ArgumentError } from '../core/errno.js';
import type { MigrationPolicy } from './policy.js';

/** Mirror only: device faults map system memory and nothing moves. */
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
