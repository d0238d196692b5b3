/**
 * The kasan checker: object lifetimes. The machine's slab (mm/slab.ts) watches every object
 * kmalloc returned while KASAN is on and records a use after free, a double free or an invalid free
 * where it happens, with the object, its free site and the use site; this checker hands the first
 * report not yet taken to the explorer's step hook, which stops the schedule after the step, as
 * the rules checker's pending reports do. It changes nothing: KASAN's report lets the access go on.
 *
 * Its own reads (and every other checker's) run inside `kasanQuiet`, so that observing a freed
 * object is not a use of it: only a simulated task's access is.
 *
 * @see mm/kasan/report.c (Linux v6.19)
 */

import type { Slab } from '../mm/slab.js';

/** The first KASAN report not yet taken, as one line, or null. */
export function takeKasanViolation(slab: Slab): string | null {
  return slab.takePending()?.message ?? null;
}

/** Runs `fn` (a checker, an observer) with KASAN reports off: its reads are not the kernel's. */
export function kasanQuiet<T>(slab: Slab, fn: () => T): T {
  return slab.quiet(fn);
}
