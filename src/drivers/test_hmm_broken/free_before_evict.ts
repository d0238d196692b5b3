/**
 * today's test_hmm with one broken step, 'test_hmm.free-before-evict': HMM_DMIRROR_RELEASE (the
 * removal dmirror_device_remove_chunks also runs at unbind) lets the chunks' memory go, contents
 * and all, before it evicts the pages processes still map; the eviction (and any CPU fault racing
 * it) then copies what is left, not the data.
 *
 * Follows 249881232e14 "nouveau/dmem: evict device private memory during release" (Alistair
 * Popple, v6.1; the hash as the Fixes: tags of the later nouveau_dmem_evict_chunk fixes cite it):
 * before it, nouveau_dmem_fini unpinned and dropped each chunk's VRAM buffer and then called
 * memunmap_pages, which waits for pages still mapped in running processes; the fix migrates them
 * back to system memory (migrate_device_range) first. test_hmm's dmirror_device_evict_chunk came
 * in the same series.
 *
 * @see lib/test_hmm.c (Linux v6.19: dmirror_device_remove_chunks, dmirror_device_evict_chunk),
 *      drivers/gpu/drm/nouveau/nouveau_dmem.c (nouveau_dmem_fini)
 */

import type { Task } from '../../sched/index.js';
import { TestHmmDmirror } from '../test_hmm/dmirror.js';
import type { DmirrorCmdResult } from '../test_hmm/uapi.js';

/** test_hmm whose removal releases the device memory before it evicts the pages in use. */
export class FreeBeforeEvict extends TestHmmDmirror {
  /** The chunks' memory is released (its contents lost), then the removal runs as before. */
  override *release(addr: number, npages: number): Task<DmirrorCmdResult | number> {
    const { mem } = this.mdevice.kernel;
    for (const chunk of this.mdevice.chunks)
      for (let pfn = chunk.pagemap.pfnFirst; pfn < chunk.pagemap.pfnLast; pfn++) mem.clearPage(pfn);
    return yield* super.release(addr, npages);
  }
}
