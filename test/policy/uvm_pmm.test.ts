import { describe, expect, it } from 'vitest';
import type { VictimCandidate, VictimRequest } from '../../src/policy/policy.js';
import { UvmRootChunks } from '../../src/policy/uvm/pmm.js';

/** A request for `need` pages where `live` pfns are placed and `guarded` ones back the batch. */
function request(need: number, live: number[], guarded: number[] = []): VictimRequest {
  const cand = (pfn: number): VictimCandidate | null =>
    live.includes(pfn) ? { pfn, vpn: pfn + 1000, protected: guarded.includes(pfn) } : null;
  return { need, nowUs: 0, candidate: cand, leastRecentlyAllocated: () => [] };
}

describe('UVM eviction: whole 2 MiB root chunks, least recently allocated first (uvm_pmm_gpu.c)', () => {
  it('an allocation moves its chunk to the tail; the head goes first, whole', () => {
    const c = new UvmRootChunks();
    c.allocated(0, 10); // chunk 0
    c.allocated(512, 20); // chunk 1
    c.allocated(1, 30); // chunk 0 again: now the most recent
    expect(c.order()).toEqual([1, 0]);
    expect(c.choose(request(1, [0, 1, 512]))).toEqual([
      { pfns: [512], reason: 'root chunk 1 (1 pages), LRU position 0, last allocated at 20 µs' },
    ]);
  });

  it('a chunk holding a page of the batch being serviced is skipped; chunks are taken until the need is met', () => {
    const c = new UvmRootChunks();
    for (const pfn of [512, 513, 0, 1, 1024]) c.allocated(pfn, pfn);
    expect(c.order()).toEqual([1, 0, 2]);
    const out = c.choose(request(3, [512, 513, 0, 1, 1024], [513]));
    expect(out.map((o) => o.pfns)).toEqual([[0, 1], [1024]]);
    expect(out[1]?.reason).toBe('root chunk 2 (1 pages), LRU position 2, last allocated at 1024 µs');
  });

  it('freed pages leave their chunk; an empty chunk leaves the list', () => {
    const c = new UvmRootChunks();
    c.allocated(0, 0);
    c.allocated(512, 1);
    c.freed(0);
    expect(c.choose(request(1, [512]))).toEqual([
      { pfns: [512], reason: 'root chunk 1 (1 pages), LRU position 0, last allocated at 1 µs' },
    ]);
    expect(c.order()).toEqual([1]);
  });
});
