/**
 * Driver mappings the HMM helpers must refuse: a VM_IO | VM_PFNMAP mapping made with
 * remap_pfn_range (MMIO with no struct page behind it: special PTEs; the model's MMIO reads as
 * zeros), and a VM_MIXEDMAP mapping filled with vm_insert_page (ordinary refcounted pages, as
 * lib/test_hmm.c's dmirror_fops_mmap makes). Both are populated at mmap time; a fault in them is
 * SIGBUS.
 *
 * @see mm/memory.c (remap_pfn_range, vm_insert_page), lib/test_hmm.c (dmirror_fops_mmap, v5.15+)
 */

import { PAGE_SIZE, pageAlignUp } from '../core/addr.js';
import { EINVAL, ENOMEM } from '../core/errno.js';
import type { Task } from '../sched/index.js';
import type { MmStruct } from './mm.js';
import { incMmCounter, MM_FILEPAGES } from './mm.js';
import { calcVmProtBits, doMunmap, getUnmappedArea, PROT_MASK } from './mmap.js';
import { ZERO_PFN } from './page.js';
import { _PAGE_RW, _PAGE_SPECIAL, pteHiOf, pteLoOf } from './pte.js';
import { pageAddRmap } from './rmap.js';
import {
  VM_DONTCOPY,
  VM_DONTEXPAND,
  VM_IO,
  VM_MAYREAD,
  VM_MAYWRITE,
  VM_MIXEDMAP,
  VM_PFNMAP,
  VM_WRITE,
  Vma,
  vmAreaAlloc,
  vmPageProt,
} from './vma.js';

/**
 * Which driver mapping to make: a VM_PFNMAP of MMIO (remap_pfn_range) or a VM_MIXEDMAP of pages
 * (vm_insert_page).
 */
export type SpecialMappingKind = 'pfnmap' | 'mixedmap';

/** With mmap_sem held for write: returns the address or -errno. */
export function* doMmapSpecial(
  mm: MmStruct,
  len: number,
  prot: number,
  kind: SpecialMappingKind,
): Task<number> {
  mm.mmapSem.assertHeld('write');
  if (len <= 0 || (prot & ~PROT_MASK) !== 0) return -EINVAL;
  if (kind === 'pfnmap' && prot & 0x2) return -EINVAL;
  len = pageAlignUp(len);
  const addr = getUnmappedArea(mm, 0, len, false);
  if (addr < 0) return addr;
  const special = kind === 'pfnmap' ? VM_IO | VM_PFNMAP | VM_DONTEXPAND | VM_DONTCOPY : VM_MIXEDMAP;
  const flags = calcVmProtBits(prot) | VM_MAYREAD | VM_MAYWRITE | special;
  const vma = vmAreaAlloc(
    mm.kernel.slab,
    new Vma(mm, addr, addr + len, flags, addr / PAGE_SIZE, null),
    'mmap_region',
  );
  mm.insertVma(vma);
  const err = kind === 'pfnmap' ? remapZeroPfns(mm, vma) : insertPages(mm, vma);
  if (err < 0) yield* doMunmap(mm, addr, len);
  return err < 0 ? err : addr;
}

function remapZeroPfns(mm: MmStruct, vma: Vma): number {
  const { pt } = mm.kernel;
  const lo = pteLoOf(ZERO_PFN, vmPageProt(vma.flags) | _PAGE_SPECIAL);
  for (let a = vma.start; a < vma.end; a += PAGE_SIZE)
    pt.set(pt.pteSlotAlloc(mm.pgd, a), lo, pteHiOf(ZERO_PFN));
  return 0;
}

function insertPages(mm: MmStruct, vma: Vma): number {
  const { pt, mem } = mm.kernel;
  const prot = vmPageProt(vma.flags) & (vma.flags & VM_WRITE ? ~0 : ~_PAGE_RW);
  for (let a = vma.start; a < vma.end; a += PAGE_SIZE) {
    const pfn = mem.allocPage();
    if (pfn < 0) return -ENOMEM;
    if (!mem.charge(pfn, mm.memcgId)) {
      mem.putPage(pfn);
      return -ENOMEM;
    }
    pageAddRmap(mm, pfn);
    incMmCounter(mm, MM_FILEPAGES);
    pt.set(pt.pteSlotAlloc(mm.pgd, a), pteLoOf(pfn, prot), pteHiOf(pfn));
  }
  return 0;
}
