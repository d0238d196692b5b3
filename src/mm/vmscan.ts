/**
 * Page reclaim, reduced to the one path the model has pages for: shrink_folio_list's lazyfree
 * path. MADV_FREE leaves anonymous pages clean and !PageSwapBacked (madvise.ts); under memory
 * pressure reclaim unmaps each such page from every mapping (try_to_unmap_one) and frees it — unless
 * a mapping dirtied it meanwhile or someone else holds a reference (a GUP pin), in which case the
 * page is put back, swap-backed again, and kept.
 *
 * The model has no LRU lists: `kernel.lazyfree` (pages in the order MADV_FREE marked them) stands in
 * for the inactive file list folio_mark_lazyfree moves them to, and there is no swap, so nothing
 * else is reclaimable. Reclaim runs when a fault cannot allocate (fault.ts, the place of the direct
 * reclaim in __alloc_pages_slowpath) and when a test asks for it (`Simulator.reclaim`, as
 * `echo 1 > /proc/sys/vm/drop_caches`-style pressure would). Page aging (folio_check_references
 * keeping a referenced page one more round) is not modelled: a clean lazyfree page goes on the
 * first pass.
 *
 * @see mm/vmscan.c shrink_folio_list, try_to_free_pages; mm/rmap.c try_to_unmap_one (Linux v6.19)
 */

import { PAGE_SIZE } from '../core/addr.js';
import type { Task } from '../sched/index.js';
import { reclaimHooks } from './fault.js';
import type { Kernel } from './kernel.js';
import type { MmStruct } from './mm.js';
import { decMmCounter, MM_ANONPAGES } from './mm.js';
import {
  MMU_NOTIFY_CLEAR,
  mmuNotifierInvalidateRangeEnd,
  mmuNotifierInvalidateRangeStart,
  notifierRange,
} from './mmu_notifier.js';
import { PG_dirty, PG_swapbacked, pageLazyfree, setPageFlags } from './page.js';
import { _PAGE_DIRTY, isDeviceExclusiveEntry, ptePfn, ptePresent } from './pte.js';
import type { RmapTarget } from './rmap.js';
import { pageRemoveRmap, rmapTargetLive, rmapTargets } from './rmap.js';

/** SWAP_CLUSTER_MAX: how many pages one direct-reclaim pass tries to free. */
export const SWAP_CLUSTER_MAX = 32;

/**
 * try_to_free_pages: frees up to `nrToReclaim` lazyfree pages (of memcg `memcgId` only, if not 0,
 * as try_to_free_mem_cgroup_pages would) and returns how many it freed.
 */
export function* tryToFreePages(kernel: Kernel, nrToReclaim: number, memcgId = 0): Task<number> {
  let freed = 0;
  for (const pfn of [...kernel.lazyfree]) {
    if (freed >= nrToReclaim) break;
    const s = kernel.mem.store;
    if (!kernel.mem.isRam(pfn) || !pageLazyfree(s, pfn)) {
      kernel.lazyfree.delete(pfn);
      continue;
    }
    if (memcgId !== 0 && s.memcg[pfn] !== memcgId) continue;
    if (yield* shrinkLazyfreePage(kernel, pfn)) freed++;
  }
  kernel.counters.inc('pglazyfreed', freed);
  return freed;
}

/**
 * shrink_folio_list for one lazyfree page: isolate it (a reference), lock it, try_to_unmap it.
 * Returns true if the page was freed.
 */
function* shrinkLazyfreePage(kernel: Kernel, pfn: number): Task<boolean> {
  const { mem } = kernel;
  if (!mem.trylockPage(pfn)) return false;
  mem.getPage(pfn);
  let discard = true;
  for (const t of rmapTargets(kernel, pfn)) {
    if (mem.store.mapcount[pfn] === 0) break;
    discard = yield* tryToUnmapLazyfree(kernel, t, pfn);
    if (!discard) break;
  }
  // page_ref_freeze(page, 1): only the isolation reference may be left for the page to be freed.
  const s = mem.store;
  discard &&= s.mapcount[pfn] === 0 && s.refcount[pfn] === 1 && !((s.flags[pfn] as number) & PG_dirty);
  kernel.lazyfree.delete(pfn);
  mem.unlockPage(pfn);
  mem.putPage(pfn);
  return discard;
}

/** try_to_unmap_one on a lazyfree page: drop this mapping, or put the page back (redirtied or referenced). */
function* tryToUnmapLazyfree(kernel: Kernel, t: RmapTarget, pfn: number): Task<boolean> {
  const end = Math.min(t.vma.end, t.address + PAGE_SIZE);
  const range = notifierRange(t.mm, t.address, end, MMU_NOTIFY_CLEAR);
  yield* mmuNotifierInvalidateRangeStart(range);
  const discarded = rmapTargetLive(t) ? discardOnePte(kernel, t.mm, t.address, pfn) : true;
  yield* mmuNotifierInvalidateRangeEnd(range);
  return discarded;
}

/**
 * The discard: a clean page whose only references are the isolation and the mappings loses this
 * mapping; a redirtied one is put back. v5.3 checked only the dirty bit, so a page GUP holds (a
 * direct-I/O read in flight, a DMA pin) was unmapped under it (`lazyfreeKeepsReferenced`).
 */
function discardOnePte(kernel: Kernel, mm: MmStruct, addr: number, pfn: number): boolean {
  const { pt, mem } = kernel;
  const s = mem.store;
  const slot = pt.pteSlot(mm.pgd, addr);
  if (slot < 0) return true;
  const lo = pt.lo[slot] as number;
  // A device-exclusive entry maps the page too (v6.19 try_to_unmap_one handles such PFN swap PTEs):
  // it is discarded like a present one, its dirtiness being the page's.
  if (!(ptePresent(lo) || isDeviceExclusiveEntry(lo)) || ptePfn(lo, pt.hi[slot] as number) !== pfn)
    return true;
  if (lo & _PAGE_DIRTY) setPageFlags(s, pfn, PG_dirty);
  const clean = !((s.flags[pfn] as number) & PG_dirty);
  const referenced = s.refcount[pfn] !== 1 + (s.mapcount[pfn] as number);
  if (!clean || (referenced && kernel.behaviour.lazyfreeKeepsReferenced)) {
    setPageFlags(s, pfn, PG_swapbacked);
    return false;
  }
  pt.clear(slot);
  decMmCounter(mm, MM_ANONPAGES);
  pageRemoveRmap(mm, pfn);
  mem.putPage(pfn);
  return true;
}

/** Direct reclaim for a fault that found no memory: the mm's memcg if it is at its limit, else all. */
function* directReclaim(mm: MmStruct): Task<boolean> {
  const { kernel } = mm;
  if (kernel.lazyfree.size === 0) return false;
  const cg = kernel.mem.memcgs.get(mm.memcgId);
  const atLimit = cg !== undefined && cg.usagePages >= cg.limitPages;
  return (yield* tryToFreePages(kernel, SWAP_CLUSTER_MAX, atLimit ? mm.memcgId : 0)) > 0;
}

reclaimHooks.directReclaim = directReclaim;
