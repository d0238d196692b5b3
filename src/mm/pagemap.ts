/**
 * Read-only views of an address space for tools, tests and benchmarks: /proc/pid/pagemap (one
 * 64-bit entry per page) and mincore(). Neither takes a fault or changes state.
 *
 * pagemap entry (Documentation/admin-guide/mm/pagemap.rst):
 *   bit 63 present, 62 swapped (any swap-type entry), 61 file-page or shared-anon,
 *   56 exclusively mapped, bits 0-54 pfn if present, else swap type (0-4) | offset << 5.
 * Written as two u32 words per page: out[2i] = bits 0..31, out[2i+1] = bits 32..63.
 *
 * @see fs/proc/task_mmu.c (pagemap_pmd_range), mm/mincore.c (Linux v5.3)
 */

import { isPageAligned, PAGE_SIZE, pageAlignUp, TASK_SIZE } from '../core/addr.js';
import { EINVAL, ENOMEM } from '../core/errno.js';
import { isHugeZeroPfn } from './huge_memory.js';
import type { MmStruct } from './mm.js';
import { PG_anon } from './page.js';
import { pmdSubpage, pteSlotIn } from './pagetable.js';
import {
  _PAGE_PRESENT,
  _PAGE_PROTNONE,
  _PAGE_SPECIAL,
  PTE_FLAGS_MASK,
  pteHiOf,
  pteLoOf,
  pteNone,
  ptePfn,
  swpType,
} from './pte.js';
import type { Vma } from './vma.js';

const PM_PRESENT_HI = 1 << 31;
const PM_SWAP_HI = 1 << 30;
const PM_FILE_HI = 1 << 29;
const PM_MMAP_EXCLUSIVE_HI = 1 << 24;
const PRESENT_OR_PROTNONE = _PAGE_PRESENT | _PAGE_PROTNONE;

/** Fills out[0 .. 2*npages) for the pages at addr; pages outside any VMA read as 0. Returns npages. */
export function pagemapRead(mm: MmStruct, addr: number, npages: number, out: Uint32Array): number {
  const end = addr + npages * PAGE_SIZE;
  let i = mm.findVmaIndex(addr);
  let filled = addr;
  for (; i < mm.vmas.length; i++) {
    const vma = mm.vmas[i] as Vma;
    if (vma.start >= end) break;
    const s = Math.max(addr, vma.start);
    const e = Math.min(end, vma.end);
    out.fill(0, ((filled - addr) / PAGE_SIZE) * 2, ((s - addr) / PAGE_SIZE) * 2);
    filled = e;
    mm.kernel.pt.walk(mm.pgd, s, e, {
      present: (t, a, b) => {
        pagemapPteTable(mm, t, a, b, (a - addr) / PAGE_SIZE, out);
        return 0;
      },
      hole: (a, b) => {
        out.fill(0, ((a - addr) / PAGE_SIZE) * 2, ((b - addr) / PAGE_SIZE) * 2);
        return 0;
      },
      huge: (slot, a, b) => {
        pagemapHugePmd(mm, slot, a, b, (a - addr) / PAGE_SIZE, out);
        return 0;
      },
      swapPmd: (slot, a, b) => {
        // pagemap_pmd_range on a PMD migration or device-private entry (v6.19): PM_SWAP words
        // with the entry's type and each subpage's offset, as PTE entries of that kind read.
        const { lo, hi } = mm.kernel.pt;
        const first = ptePfn(lo[slot] as number, hi[slot] as number) + pmdSubpage(a);
        const type = swpType(lo[slot] as number);
        for (let k = 0, o = ((a - addr) / PAGE_SIZE) * 2; a + k * PAGE_SIZE < b; k++, o += 2)
          swapWord(out, o, type, first + k);
        return 0;
      },
    });
  }
  out.fill(0, ((filled - addr) / PAGE_SIZE) * 2, npages * 2);
  return npages;
}

function pagemapPteTable(
  mm: MmStruct,
  t: number,
  start: number,
  end: number,
  outIndex: number,
  out: Uint32Array,
): void {
  const { lo, hi } = mm.kernel.pt;
  const { flags, mapcount } = mm.kernel.mem.store;
  const first = pteSlotIn(t, start);
  const n = (end - start) / PAGE_SIZE;
  for (let k = 0, o = outIndex * 2; k < n; k++, o += 2) {
    const l = lo[first + k] as number;
    const h = hi[first + k] as number;
    if ((l | h) === 0) {
      out[o] = 0;
      out[o + 1] = 0;
      continue;
    }
    // The struct-page store covers fewer than 2^31 pfns, so the frame is a small integer.
    const pfn = (l >>> 12) | ((h & 0x7ff) << 20);
    if (l & PRESENT_OR_PROTNONE) {
      let f = PM_PRESENT_HI;
      if (!(l & _PAGE_SPECIAL)) {
        if (!((flags[pfn] as number) & PG_anon)) f |= PM_FILE_HI;
        if (mapcount[pfn] === 1) f |= PM_MMAP_EXCLUSIVE_HI;
      }
      out[o] = pfn;
      out[o + 1] = f;
    } else {
      swapWord(out, o, swpType(l), pfn);
    }
  }
}

/**
 * pagemap_pmd_range on a huge PMD: every page of [start, end) is present with the pfn of its
 * subpage; exclusive if the subpage is mapped once (its folio's PMD mapping, no PTE mapping).
 * The huge zero page reports its pfns, as the kernel does, and is never exclusive.
 */
function pagemapHugePmd(
  mm: MmStruct,
  slot: number,
  start: number,
  end: number,
  outIndex: number,
  out: Uint32Array,
): void {
  const { pt } = mm.kernel;
  const s = mm.kernel.mem.store;
  const pfn0 = ptePfn(pt.lo[slot] as number, pt.hi[slot] as number) + pmdSubpage(start);
  const zero = isHugeZeroPfn(mm.kernel, pfn0 - pmdSubpage(start));
  const n = (end - start) / PAGE_SIZE;
  for (let k = 0, o = outIndex * 2; k < n; k++, o += 2) {
    const pfn = pfn0 + k;
    out[o] = pfn;
    out[o + 1] = !zero && s.pageMapcount(pfn) === 1 ? PM_PRESENT_HI | PM_MMAP_EXCLUSIVE_HI : PM_PRESENT_HI;
  }
}

/**
 * mincore: vec[i] = 1 if page i is resident — mapped by a present entry, a swap-type entry that is
 * not a real swap slot (migration, device-private), or, in a file VMA, in the page cache.
 * Returns 0, -EINVAL (unaligned) or -ENOMEM (a page outside any VMA).
 */
export function mincore(mm: MmStruct, addr: number, len: number, vec: Uint8Array): number {
  if (!isPageAligned(addr)) return -EINVAL;
  const end = addr + pageAlignUp(len);
  if (end > TASK_SIZE || end < addr) return -ENOMEM;
  const { pt } = mm.kernel;
  for (let a = addr; a < end; ) {
    const vma = mm.vmaAt(a);
    if (vma === null) return -ENOMEM;
    const e = Math.min(end, vma.end);
    for (; a < e; a += PAGE_SIZE) {
      const slot = pt.leafSlot(mm.pgd, a);
      const l = slot < 0 ? 0 : (pt.lo[slot] as number);
      const h = slot < 0 ? 0 : (pt.hi[slot] as number);
      vec[(a - addr) / PAGE_SIZE] = residency(vma, a, l, h);
    }
  }
  return 0;
}

function residency(vma: Vma, addr: number, lo: number, hi: number): number {
  if (pteNone(lo, hi)) return vma.file !== null && vma.file.findPage(vma.linearPageIndex(addr)) >= 0 ? 1 : 0;
  if (lo & PRESENT_OR_PROTNONE) return 1;
  return swpType(lo) === 1 ? 0 : 1;
}

/**
 * A side-effect-free walk that copies the raw 64-bit PTE of each of `npages` pages at addr into
 * out (two u32 words per page, the layout of pte.ts); pages with no PTE table read as 0. This is
 * the cheapest full walk — the analogue of mincore(), which reads the same entries and reports a
 * byte each — and what tools and checkers use to look at a page table without touching it.
 */
export function walkPtes(mm: MmStruct, addr: number, npages: number, out: Uint32Array): number {
  const { pt } = mm.kernel;
  const end = addr + npages * PAGE_SIZE;
  pt.walk(mm.pgd, addr, end, {
    present: (t, a, b) => {
      const first = pteSlotIn(t, a);
      const n = (b - a) / PAGE_SIZE;
      const o = ((a - addr) / PAGE_SIZE) * 2;
      const lo = pt.lo;
      const hi = pt.hi;
      for (let k = 0; k < n; k++) {
        out[o + 2 * k] = lo[first + k] as number;
        out[o + 2 * k + 1] = hi[first + k] as number;
      }
      return 0;
    },
    hole: (a, b) => {
      out.fill(0, ((a - addr) / PAGE_SIZE) * 2, ((b - addr) / PAGE_SIZE) * 2);
      return 0;
    },
    huge: (slot, a, b) => {
      // The PMD's own bits (PSE included, which marks the mapping order 9) with each page's frame.
      const lo = pt.lo[slot] as number;
      const hi = pt.hi[slot] as number;
      const pfn0 = ptePfn(lo, hi) + pmdSubpage(a);
      const o = ((a - addr) / PAGE_SIZE) * 2;
      const hiFlags = hi & ~pteHiOf(pfn0 - pmdSubpage(a));
      for (let k = 0; k < (b - a) / PAGE_SIZE; k++) {
        out[o + 2 * k] = pteLoOf(pfn0 + k, lo & PTE_FLAGS_MASK);
        out[o + 2 * k + 1] = (pteHiOf(pfn0 + k) | hiFlags) >>> 0;
      }
      return 0;
    },
  });
  return npages;
}

/** A PM_SWAP word: the swap type in the low 5 bits, the offset (the pfn) above. */
function swapWord(out: Uint32Array, o: number, type: number, pfn: number): void {
  const v = type + pfn * 32;
  out[o] = v % 2 ** 32;
  out[o + 1] = (PM_SWAP_HI | Math.floor(v / 2 ** 32)) >>> 0;
}
