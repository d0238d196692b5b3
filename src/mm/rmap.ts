/**
 * Reverse mapping: from a page to every PTE that maps it, which migration (try_to_unmap) and the
 * checkers need. Anonymous pages reach their mappings through their anon_vma: the VMAs linked to
 * it (the VMA that created the page, and after fork each child's copy). File pages reach theirs
 * through the file's i_mmap. A page's address in a VMA is vma_address(page->index).
 *
 * Divergence: anon_vma_chain is flattened to a list of anon_vmas per VMA and a set of VMAs per
 * anon_vma; there is no anon_vma tree root or degree-based reuse.
 *
 * @see mm/rmap.c (Linux v5.3)
 */

import type { Vma } from './vma.js';

export class AnonVma {
  readonly id: number;
  /** The VMAs (in any mm) that may map pages of this anon_vma. */
  readonly vmas = new Set<Vma>();

  constructor(id: number) {
    this.id = id;
  }
}

/** anon_vma_chain_link for every anon_vma of the chain. */
export function linkAnonChain(vma: Vma): void {
  for (const av of vma.anonChain) av.vmas.add(vma);
}

export function unlinkAnonChain(vma: Vma): void {
  for (const av of vma.anonChain) av.vmas.delete(vma);
}
