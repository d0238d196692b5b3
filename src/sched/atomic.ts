/**
 * Atomic context: where sleeping is forbidden.
 *
 * A thread is atomic while it holds a SpinLock or is between nonBlockStart() and nonBlockEnd()
 * (an mmu notifier's non-blocking invalidate). Every yield is a possible sleep, so the executor
 * checks this at each yield and throws the BUG below into the thread at that yield; mightSleep()
 * lets code that does not yield (e.g. a GFP_KERNEL allocation) make the same check.
 *
 * @see kernel/sched/core.c (___might_sleep), include/linux/kernel.h (might_sleep),
 *      include/linux/sched.h (non_block_start, non_block_end)
 */

import { KernelBug } from '../core/assert.js';
import { describeHeld } from './lockdep.js';
import { current, currentOrNull, type Thread } from './thread.js';

/** The report ___might_sleep prints, naming the thread and why it is atomic. */
export function sleepInAtomicBug(t: Thread, site: string): KernelBug {
  const spin: string[] = [];
  for (let i = 0; i < t.heldLocks.length; i++) {
    const l = t.heldLocks[i]!;
    if (l.kind === 'spinlock') spin.push(`spinlock ${l.name}`);
  }
  const held = describeHeld(t);
  return new KernelBug(
    `BUG: sleeping function called from invalid context at ${site}\n` +
      `in_atomic(): ${t.spinDepth > 0 ? 1 : 0}, non_block: ${t.nonBlockDepth}, name: ${t.name}` +
      (spin.length > 0 ? `, holding ${spin.join(', ')}` : '') +
      `\nlocks held by ${t.name}: ${held.length > 0 ? held.join(', ') : '(none)'}`,
  );
}

/** might_sleep(): KernelBug if the current thread is atomic; no-op outside a thread. */
export function mightSleep(site: string): void {
  const t = currentOrNull();
  if (t !== null && (t.spinDepth !== 0 || t.nonBlockDepth !== 0)) throw sleepInAtomicBug(t, site);
}

/** non_block_start(): from here until nonBlockEnd() the thread must not sleep. */
export function nonBlockStart(): void {
  current().nonBlockDepth++;
}

/** non_block_end(): ends the section nonBlockStart() opened; a KernelBug without one. */
export function nonBlockEnd(): void {
  const t = current();
  if (t.nonBlockDepth === 0)
    throw new KernelBug(`BUG: non_block_end() without non_block_start() in ${t.name}`);
  t.nonBlockDepth--;
}
