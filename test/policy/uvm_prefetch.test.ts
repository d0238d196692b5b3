import { describe, expect, it } from 'vitest';
import { computePrefetchRegion, uvmPrefetch } from '../../src/policy/uvm/prefetch.js';

const none = new Set<number>();
const range = (a: number, b: number): number[] => Array.from({ length: b - a }, (_, i) => a + i);

/** A 2 MiB-aligned block of 512 pages with these faulted, resident and thrashing pages. */
function block(faulted: number[], resident: number[] = [], thrashing: number[] = []) {
  return {
    firstVpn: 512,
    pages: 512,
    faulted: new Set(faulted),
    resident: new Set(resident),
    thrashing: new Set(thrashing),
  };
}

describe('the tree-based density prefetcher (uvm_perf_prefetch.c)', () => {
  it('one fault grows to its 64 KiB big page: the other 15 pages are prefetched, the 32-page subtree (50%) is not', () => {
    const r = uvmPrefetch(block([0]), 51);
    expect(r.pages).toEqual(range(1, 16));
    expect(r.regions).toEqual([{ first: 0, outer: 16, count: 16, size: 16, fault: 0 }]);
  });

  it('17 of 32 set (53%) passes the 51% rule: the whole 32-page subtree goes', () => {
    const r = uvmPrefetch(block([0], [16]), 51);
    expect(r.regions).toEqual([{ first: 0, outer: 32, count: 17, size: 32, fault: 0 }]);
    expect(r.pages).toEqual(range(1, 32));
  });

  it('the comparison is strict: exactly 50% does not pass a threshold of 50, 51% of 100 leaves does not pass 51', () => {
    const half = new Uint8Array(32).fill(1, 0, 16);
    expect(computePrefetchRegion(half, 0, 50)).toEqual({ first: 0, outer: 16, count: 16 });
    expect(computePrefetchRegion(half, 0, 49)).toEqual({ first: 0, outer: 32, count: 16 });
    // A tree of 100 leaves (a clipped block): the root's range is clamped to them; 51 of 100 is not > 51%.
    const leaves = new Uint8Array(100).fill(1, 0, 51);
    expect(computePrefetchRegion(leaves, 0, 51)).toEqual({ first: 0, outer: 64, count: 51 });
    leaves[99] = 1;
    expect(computePrefetchRegion(leaves, 0, 51)).toEqual({ first: 0, outer: 100, count: 52 });
  });

  it('the largest passing ancestor wins even when a smaller one fails (16/32 fails, 48/64 passes)', () => {
    const r = uvmPrefetch(block([0], range(32, 64)), 51);
    expect(r.regions).toEqual([{ first: 0, outer: 64, count: 48, size: 64, fault: 0 }]);
    expect(r.pages).toEqual(range(1, 64));
  });

  it('a thrashing page stops its big page from growing and is never prefetched', () => {
    const r = uvmPrefetch(block([0], [], [5]), 51);
    // Only the fault itself is in the tree: its leaf passes, nothing else.
    expect(r.regions).toEqual([{ first: 0, outer: 1, count: 1, size: 1, fault: 0 }]);
    expect(r.pages).toEqual([]);
    expect(uvmPrefetch(block([0], range(1, 16), [5]), 51).pages).toEqual(range(1, 16).filter((i) => i !== 5));
  });

  it('a threshold of 100 prefetches nothing (no region is more than 100% there)', () => {
    expect(uvmPrefetch(block([0, 1, 2]), 100)).toEqual({ pages: [], regions: [] });
  });

  it('a block clipped by its VMA is shifted so the tree aligns with big pages (prefix grown, then clamped)', () => {
    // Pages [5, 32) of a 2 MiB window: the prefix [5, 16) is the partial big page.
    const r = uvmPrefetch(
      { firstVpn: 5, pages: 27, faulted: new Set([0]), resident: none, thrashing: none },
      51,
    );
    expect(r.regions).toEqual([{ first: 0, outer: 11, count: 11, size: 16, fault: 0 }]);
    expect(r.pages).toEqual(range(1, 11));
  });
});
