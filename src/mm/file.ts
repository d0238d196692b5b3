/**
 * In-memory files and shmem: an inode's address_space (its page cache) is where the data lives,
 * as on tmpfs/ramfs. A page missing from the cache is a hole and reads as zeros; the first fault or
 * write that needs it allocates a zeroed page and inserts it. The page cache holds one reference to
 * each of its pages; every PTE mapping holds another.
 *
 * Divergences: no writeback, no dirty accounting (so shared mappings are mapped writable at fault
 * time, as shmem's are), no truncate while mapped.
 *
 * @see mm/filemap.c, mm/shmem.c (Linux v5.3)
 */

import { PAGE_SIZE } from '../core/addr.js';
import { KernelBug } from '../core/assert.js';
import { PG_dirty, PG_swapbacked, PG_uptodate, setPageFlags } from './page.js';
import type { PhysMem } from './page_alloc.js';
import type { Vma } from './vma.js';

/**
 * struct address_space: one in-memory file's page cache and its mappings (see the file comment). @see
 * include/linux/fs.h
 */
export class AddressSpace {
  /** Id used in page->mapping. */
  readonly id: number;
  /** File name, for reports. */
  readonly name: string;
  /** A shmem/tmpfs file: its pages are PG_swapbacked and count in MM_SHMEMPAGES. */
  readonly shmem: boolean;
  /** i_size in bytes. */
  size: number;
  /** page index -> pfn */
  readonly pages = new Map<number, number>();
  /** i_mmap: the VMAs that map this file. */
  readonly mmaps = new Set<Vma>();
  /** memcg new page-cache pages are charged to when no task is known. */
  memcgId: number;
  /** An unlinked inode (the shmem object behind MAP_SHARED|MAP_ANONYMOUS): freed with its last mapping. */
  unlinked = false;

  constructor(id: number, name: string, size: number, shmem: boolean, memcgId: number) {
    this.id = id;
    this.name = name;
    this.size = size;
    this.shmem = shmem;
    this.memcgId = memcgId;
  }

  /** File size in pages, rounded up. */
  get npages(): number {
    return Math.ceil(this.size / PAGE_SIZE);
  }

  /** find_get_page without the reference: the cached pfn at `index`, or -1. */
  findPage(index: number): number {
    return this.pages.get(index) ?? -1;
  }

  /**
   * find_or_create_page: the page at `index`, inserted zeroed if missing and charged to `memcgId`.
   * Returns -1 when memory or the memcg limit runs out. The caller gets no extra reference.
   */
  findOrCreatePage(mem: PhysMem, index: number, memcgId: number): number {
    const cached = this.pages.get(index);
    if (cached !== undefined) return cached;
    const pfn = mem.allocPage();
    if (pfn < 0) return -1;
    if (!mem.charge(pfn, memcgId)) {
      mem.putPage(pfn);
      return -1;
    }
    const s = mem.store;
    s.flags[pfn] = PG_uptodate | (this.shmem ? PG_swapbacked : 0);
    s.mapping[pfn] = this.id;
    s.index[pfn] = index;
    this.pages.set(index, pfn);
    return pfn;
  }

  /** set_page_dirty(): marks a page-cache page as written (PG_dirty). */
  markDirty(mem: PhysMem, pfn: number): void {
    setPageFlags(mem.store, pfn, PG_dirty);
  }

  /** Drops the page cache's references (the inode is being evicted); mapped pages live on until unmapped. */
  evict(mem: PhysMem): void {
    if (this.mmaps.size !== 0) throw new KernelBug(`evict: ${this.name} is still mapped`);
    for (const pfn of this.pages.values()) {
      mem.store.mapping[pfn] = 0;
      mem.putPage(pfn);
    }
    this.pages.clear();
  }
}
