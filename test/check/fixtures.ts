/** Helpers of the checker tests. */

import type { MmStruct } from '../../src/mm/mm.js';

/** A driver step that looks up the VMA of `addr` without taking mmap_lock (the bug). */
export function* findVmaUnlockedDriver(mm: MmStruct, addr: number): Generator<string, void> {
  yield 'dmirror_migrate';
  mm.findVma(addr);
}
