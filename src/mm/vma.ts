/**
 * struct vm_area_struct: one contiguous mapping of an address space, with its flags, its backing
 * file (or shmem inode) and offset, and its anon_vma chain for anonymous pages.
 *
 * @see include/linux/mm_types.h, include/linux/mm.h (VM_* flags) (Linux v5.3)
 */

import { addrToVpn, PAGE_SIZE } from '../core/addr.js';
import type { AddressSpace } from './file.js';
import { _PAGE_ACCESSED, _PAGE_PRESENT, _PAGE_PROTNONE, _PAGE_RW, _PAGE_USER } from './pte.js';
import type { AnonVma } from './rmap.js';
import { kfree, kmalloc, type Slab } from './slab.js';

/** No access (PROT_NONE). */
export const VM_NONE = 0;
/** Readable now. */
export const VM_READ = 0x1;
/** Writable now. */
export const VM_WRITE = 0x2;
/** Executable now. */
export const VM_EXEC = 0x4;
/** MAP_SHARED: writes reach the backing object and every other mapping of it. */
export const VM_SHARED = 0x8;
/** mprotect may make it readable. */
export const VM_MAYREAD = 0x10;
/** mprotect may make it writable. */
export const VM_MAYWRITE = 0x20;
/** mprotect may make it executable. */
export const VM_MAYEXEC = 0x40;
/** Mapped MAP_SHARED, even if not writable. */
export const VM_MAYSHARE = 0x80;
/** Raw pfns with no struct page behind them: HMM must refuse it. */
export const VM_PFNMAP = 0x400;
/** mlock()ed: its pages stay resident. */
export const VM_LOCKED = 0x2000;
/** Memory-mapped I/O: no get_user_pages, no HMM. */
export const VM_IO = 0x4000;
/** Not copied into a fork child (MADV_DONTFORK). */
export const VM_DONTCOPY = 0x20000;
/** mremap may not grow it. */
export const VM_DONTEXPAND = 0x40000;
/** Backed by the hugetlb pool (MAP_HUGETLB). */
export const VM_HUGETLB = 0x400000;
/** Mixes pages with and without struct page: HMM must refuse it. */
export const VM_MIXEDMAP = 0x10000000;
/** MADV_HUGEPAGE / MADV_NOHUGEPAGE advice (include/linux/mm.h). */
export const VM_HUGEPAGE = 0x20000000;
/** MADV_NOHUGEPAGE: never back it with THP. */
export const VM_NOHUGEPAGE = 0x40000000;
/** The flags of special mappings: never merged, and migrate_vma refuses them. */
export const VM_SPECIAL = VM_IO | VM_DONTEXPAND | VM_PFNMAP | VM_MIXEDMAP;

/**
 * vm_get_page_prot: the PTE protection bits a VMA's pages are mapped with. Private mappings are
 * mapped read-only (PAGE_COPY) even when writable, so the first write faults and COWs or reuses;
 * a VMA with no access at all gets PAGE_NONE (not present, PROTNONE). Here beside the VM_ flags, as
 * include/linux/mm.h declares it (mm/mmap.c defines it), so the fault path need not import memory.ts.
 */
export function vmPageProt(flags: number): number {
  if ((flags & (VM_READ | VM_WRITE | VM_EXEC)) === 0) return _PAGE_PROTNONE | _PAGE_ACCESSED;
  const rw = (flags & (VM_SHARED | VM_WRITE)) === (VM_SHARED | VM_WRITE) ? _PAGE_RW : 0;
  return _PAGE_PRESENT | _PAGE_USER | _PAGE_ACCESSED | rw;
}

/** Flags that must match for two neighbouring VMAs to merge (VM_SOFTDIRTY aside). */
const MERGE_MASK = ~0;

/**
 * struct vm_area_struct: one mapped area of an address space, with its flags and backing.
 * @see include/linux/mm_types.h (Linux v5.3)
 */
export class Vma {
  /** The owning mm (an MmStruct; typed loosely to keep vma.ts free of a cycle). */
  readonly mm: {
    /** MmStruct.id of the owning mm. */
    readonly id: number;
  };
  /** vm_start: the first address (inclusive). */
  start: number;
  /** vm_end: the first address past the area. */
  end: number;
  /** vm_flags: the VM_* bits. */
  flags: number;
  /** vm_pgoff: file offset in pages, or start >> PAGE_SHIFT for anonymous VMAs. */
  pgoff: number;
  /** vm_file's mapping: a regular file or a shmem inode (MAP_SHARED|MAP_ANONYMOUS). */
  file: AddressSpace | null;
  /** The anon_vma new anonymous pages of this VMA belong to (null until the first anon fault). */
  anonVma: AnonVma | null = null;
  /** Every anon_vma whose pages may be mapped here: ancestors' after fork, then our own. */
  anonChain: AnonVma[] = [];
  /**
   * A private hugetlb mapping's reservation map (hugetlb.ts): huge-page indices reserved at mmap
   * and not yet faulted in. Shared by the parts of a split VMA, as vm_private_data's resv_map is.
   */
  hugetlbResv: Set<number> | null = null;

  constructor(
    mm: { readonly id: number },
    start: number,
    end: number,
    flags: number,
    pgoff: number,
    file: AddressSpace | null,
  ) {
    this.mm = mm;
    this.start = start;
    this.end = end;
    this.flags = flags;
    this.pgoff = pgoff;
    this.file = file;
  }

  /** Pages in the area. */
  get npages(): number {
    return (this.end - this.start) / PAGE_SIZE;
  }

  /** True if addr lies in [start, end). */
  contains(addr: number): boolean {
    return addr >= this.start && addr < this.end;
  }

  /** vma_is_anonymous: no file and no special mapping behind it. */
  isAnonymous(): boolean {
    return this.file === null && (this.flags & (VM_PFNMAP | VM_MIXEDMAP | VM_IO | VM_HUGETLB)) === 0;
  }

  /** vma_is_shmem(): backed by a shmem (tmpfs) file. */
  isShmem(): boolean {
    return this.file?.shmem === true;
  }

  /** is_cow_mapping: private and possibly writable, so fork write-protects and writes copy. */
  isCowMapping(): boolean {
    return (this.flags & (VM_SHARED | VM_MAYWRITE)) === VM_MAYWRITE;
  }

  /** linear_page_index: the page->index a page mapped at addr has. */
  linearPageIndex(addr: number): number {
    return addrToVpn(addr - this.start) + this.pgoff;
  }

  /** vma_address: where page index `index` is mapped in this VMA (may lie outside it). */
  addressOf(index: number): number {
    return this.start + (index - this.pgoff) * PAGE_SIZE;
  }

  /**
   * True if `next` starts where this ends and could be one area (is_mergeable_vma and friends).
   * @see mm/mmap.c (Linux v5.3)
   */
  canMergeWith(next: Vma): boolean {
    // hugetlb VMAs never merge: their vm_ops have a close (is_mergeable_vma).
    return (
      !(this.flags & VM_HUGETLB) &&
      this.end === next.start &&
      (this.flags & MERGE_MASK) === (next.flags & MERGE_MASK) &&
      this.file === next.file &&
      this.pgoff + this.npages === next.pgoff &&
      (this.anonVma === null || next.anonVma === null || this.anonVma === next.anonVma) &&
      sameChain(this.anonChain, next.anonChain)
    );
  }

  /** /proc/pid/maps style, for messages. */
  toString(): string {
    const f = this.flags;
    const perms = `${f & VM_READ ? 'r' : '-'}${f & VM_WRITE ? 'w' : '-'}${f & VM_EXEC ? 'x' : '-'}${f & VM_SHARED ? 's' : 'p'}`;
    return `${this.start.toString(16)}-${this.end.toString(16)} ${perms} ${this.file ? this.file.name : '[anon]'}`;
  }
}

function sameChain(a: AnonVma[], b: AnonVma[]): boolean {
  if (a.length === 0 || b.length === 0) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * vm_area_alloc / vm_area_dup: `vma`, built by `caller` (mmap_region, __split_vma, dup_mmap, a
 * special mapping), from the vm_area_struct cache: watched by KASAN when it is on, so a driver that
 * saved a VMA and uses it after munmap or exit is reported.
 * @see mm/vma_init.c (Linux v6.19: vm_area_alloc, vm_area_dup, vm_area_free)
 */
export function vmAreaAlloc(slab: Slab, vma: Vma, caller: string): Vma {
  return kmalloc(slab, vma, 'struct vm_area_struct', caller, () => `${vma.toString()} of mm ${vma.mm.id}`);
}

/** vm_area_free: remove_vma's last step, once the area is unmapped and its vm_ops closed. */
export function vmAreaFree(slab: Slab, vma: Vma): void {
  kfree(slab, vma, 'vm_area_free');
}
