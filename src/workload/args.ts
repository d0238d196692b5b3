/** Argument checks shared by the workload's building blocks: each throws ArgumentError naming the argument. */

import { ArgumentError } from '../core/errno.js';
import { DEVICE_THREADS_MAX } from '../device/kernel.js';

/** `value` if it is an unsigned integer of `bits` bits (at most 53). */
export function uint(name: string, value: number, bits: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value >= 2 ** bits)
    throw new ArgumentError(name, `expected a u${bits}, got ${String(value)}`);
  return value;
}

export function u64(name: string, value: bigint): bigint {
  if (typeof value !== 'bigint' || value < 0n || value >= 1n << 64n)
    throw new ArgumentError(name, `expected a u64 bigint, got ${String(value)}`);
  return value;
}

export function checkThreads(threadId: number, threads: number): void {
  if (!Number.isInteger(threads) || threads < 1 || threads > DEVICE_THREADS_MAX)
    throw new ArgumentError('threads', `expected 1..${DEVICE_THREADS_MAX}, got ${threads}`);
  if (!Number.isInteger(threadId) || threadId < 0 || threadId >= threads)
    throw new ArgumentError('threadId', `expected 0..${threads - 1}, got ${threadId}`);
}
