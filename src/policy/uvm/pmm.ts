/**
 * UVM's eviction order: device memory is managed in 2 MiB root chunks, and a root chunk moves to the
 * tail of the USED list whenever one of its pages is allocated (not when it is accessed: a TODO in
 * the source), so the chunk evicted first is the least recently ALLOCATED one. Eviction takes a whole
 * root chunk: every resident page it backs moves to system memory. Chunks holding a page of the
 * block being serviced are pinned for the service and are not evictable.
 *
 * Divergence: UVM first takes a free root chunk and evicts only when none is left; hmmsim's device
 * allocates page by page, so the engine asks for victims only when free pages are short, and a chunk
 * is a naturally aligned run of 512 device page frames.
 *
 * @see kernel-open/nvidia-uvm/uvm_pmm_gpu.c (pick_root_chunk_to_evict, chunk_update_lists_locked,
 *      evict_root_chunk) (open-gpu-kernel-modules 595.45.04; docs/policies.md)
 */

import type { VictimChoice, VictimRequest } from '../policy.js';

/** A root chunk: 2 MiB = 512 pages of 4 KiB (UVM_CHUNK_SIZE_MAX). */
export const UVM_ROOT_CHUNK_PAGES = 512;

/** The USED list of root chunks in allocation order, and the pages each backs. */
export class UvmRootChunks {
  /** Chunk index → its placed page frames; Map order is the LRU order (head = least recent). */
  private readonly used = new Map<number, Set<number>>();
  /** The device clock when each chunk last had a page allocated. */
  private readonly allocatedUs = new Map<number, number>();
  /** The chunk at the tail of `used` and its pages, or -1: pages come chunk by chunk, so most are its. */
  private tail = -1;
  private tailPages: Set<number> | null = null;

  /** A page of chunk pfn/512 was allocated: the chunk moves to the tail. */
  allocated(pfn: number, nowUs: number): void {
    const c = Math.floor(pfn / UVM_ROOT_CHUNK_PAGES);
    let pages = c === this.tail ? this.tailPages : null;
    if (pages === null) {
      pages = this.used.get(c) ?? new Set<number>();
      this.used.delete(c);
      this.used.set(c, pages);
      this.tail = c;
      this.tailPages = pages;
    }
    pages.add(pfn);
    this.allocatedUs.set(c, nowUs);
  }

  /** A page left device memory. */
  freed(pfn: number): void {
    this.used.get(Math.floor(pfn / UVM_ROOT_CHUNK_PAGES))?.delete(pfn);
  }

  /** Chunk indexes in LRU order (for tests and reasons). */
  order(): number[] {
    return [...this.used.keys()];
  }

  /** Whole root chunks from the head of the list until `need` pages are covered (see the file comment). */
  choose(req: VictimRequest): VictimChoice[] {
    const out: VictimChoice[] = [];
    let got = 0;
    let position = 0;
    for (const [c, pages] of [...this.used]) {
      if (got >= req.need) break;
      const live: number[] = [];
      let pinned = false;
      for (const pfn of pages) {
        const v = req.candidate(pfn);
        if (v === null) pages.delete(pfn);
        else if (v.protected) pinned = true;
        else live.push(pfn);
      }
      if (pages.size === 0) {
        this.used.delete(c);
        if (c === this.tail) {
          this.tail = -1;
          this.tailPages = null;
        }
        continue;
      }
      if (!pinned) {
        live.sort((a, b) => a - b);
        out.push({
          pfns: live,
          reason: `root chunk ${c} (${live.length} pages), LRU position ${position}, last allocated at ${us(this.allocatedUs.get(c) ?? 0)} µs`,
        });
        got += live.length;
      }
      position++;
    }
    return out;
  }
}

/** µs as reasons print them: to the nanosecond. */
function us(t: number): number {
  return Math.round(t * 1000) / 1000;
}
