/**
 * One test per CPU state: the exact output word hmm_range_fault (v6.19) writes for it, with no
 * fault requested and with one.
 */

import { describe, expect, it } from 'vitest';
import { EBUSY, EFAULT, EPERM } from '../../../src/core/errno.js';
import {
  HMM_PFN_ERROR as ERR,
  HMM_PFN_ORDER_SHIFT,
  HMM_PFN_REQ_FAULT as REQ,
  HMM_PFN_REQ_WRITE as REQ_W,
  HMM_PFN_VALID as V,
  HMM_PFN_WRITE as W,
} from '../../../src/hmm/modern/index.js';
import {
  _PAGE_PRESENT,
  _PAGE_PROTNONE,
  _PAGE_SPECIAL,
  _PAGE_USER,
  MADV_HUGEPAGE,
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_HUGETLB,
  MAP_PRIVATE,
  MMU_NOTIFY_CLEAR,
  makeDeviceExclusive,
  PROT_NONE,
  PROT_READ,
  PROT_WRITE,
  pteHiOf,
  pteLoOf,
  ptePfn,
  SWP_DEVICE_READ,
  SWP_DEVICE_WRITE,
  SWP_HWPOISON,
  swpEntryLo,
  ZERO_PFN,
} from '../../../src/mm/index.js';
import {
  BASE,
  mapAt,
  PAGE,
  setDevicePrivate,
  setHwpoison,
  setSwapEntry,
  slotOf,
  touch,
  withMmapRead,
} from '../helpers.js';
import { fault, modernWorld, newRange, out, ownedDevice, pfnAt, readBegin } from './helpers.js';

const ORDER9 = 9 * 2 ** HMM_PFN_ORDER_SHIFT;

function pgfaults(w: ReturnType<typeof modernWorld>): number {
  return w.sim.kernel.counters.get('pgfault');
}

describe('present PTEs', () => {
  it('read-write and read-only pages: pfn | VALID (| WRITE), nothing faulted', () => {
    const w = modernWorld();
    mapAt(w, BASE, 2);
    touch(w, BASE, [0, 1]);
    w.p.mprotect(BASE + PAGE, PAGE, PROT_READ);
    const range = newRange(w, BASE, 2);
    const before = pgfaults(w);
    expect(fault(w, range)).toBe(0);
    expect(out(range)).toEqual([pfnAt(w, BASE) + V + W, pfnAt(w, BASE + PAGE) + V]);
    expect(pgfaults(w)).toBe(before);
  });

  it('REQ_WRITE on a read-only PTE of a writable VMA write-faults it (COW reuse)', () => {
    const w = modernWorld();
    mapAt(w, BASE, 1);
    touch(w, BASE, [0]);
    const slot = slotOf(w, BASE);
    const { pt } = w.sim.kernel;
    pt.lo[slot] = (pt.lo[slot] as number) & ~2; // wrprotect, as fork leaves a page
    const pfn = pfnAt(w, BASE);
    const range = newRange(w, BASE, 1, { defaultFlags: REQ + REQ_W });
    expect(fault(w, range)).toBe(0);
    expect(out(range)).toEqual([pfn + V + W]);
  });

  it('a write request on a read-only VMA is -EPERM, and nothing is faulted', () => {
    const w = modernWorld();
    mapAt(w, BASE, 1, PROT_READ);
    const range = newRange(w, BASE, 1, { defaultFlags: REQ + REQ_W });
    const before = pgfaults(w);
    expect(fault(w, range)).toBe(-EPERM);
    expect(pgfaults(w)).toBe(before);
  });
});

describe('the zero page', () => {
  it('is a normal readable pfn: VALID, no WRITE', () => {
    const w = modernWorld();
    mapAt(w, BASE, 1);
    w.p.read(BASE, 1);
    const range = newRange(w, BASE, 1, { defaultFlags: REQ });
    expect(fault(w, range)).toBe(0);
    expect(out(range)).toEqual([ZERO_PFN + V]);
  });

  it('a read request on a none PTE maps it (do_anonymous_page read)', () => {
    const w = modernWorld();
    mapAt(w, BASE, 2);
    const range = newRange(w, BASE, 2, { defaultFlags: REQ });
    expect(fault(w, range)).toBe(0);
    expect(out(range)).toEqual([ZERO_PFN + V, ZERO_PFN + V]);
    expect(w.p.pte(BASE).kind).toBe('present');
  });
});

describe('huge mappings', () => {
  it('a THP: subpage pfns with VALID | WRITE and map order 9', () => {
    const w = modernWorld();
    mapAt(w, BASE, 512);
    w.p.madvise(BASE, 512 * PAGE, MADV_HUGEPAGE);
    w.p.write(BASE, Uint8Array.of(1));
    const head = pfnAt(w, BASE);
    const range = newRange(w, BASE + 8 * PAGE, 4);
    expect(fault(w, range)).toBe(0);
    expect(out(range)).toEqual([0, 1, 2, 3].map((i) => head + 8 + i + V + W + ORDER9));
  });

  it('the huge zero page: VALID with order 9, no WRITE', () => {
    const w = modernWorld();
    mapAt(w, BASE, 512);
    w.p.madvise(BASE, 512 * PAGE, MADV_HUGEPAGE);
    w.p.read(BASE, 1);
    const zero = w.sim.kernel.thp.hugeZeroPfn;
    const range = newRange(w, BASE, 2);
    expect(fault(w, range)).toBe(0);
    expect(out(range)).toEqual([zero + V + ORDER9, zero + 1 + V + ORDER9]);
  });

  it('hugetlb: the huge page pfns with its order (9); an unpopulated one is faulted when requested', () => {
    const w = modernWorld({ hugetlbPages: 1 });
    const a = w.sim.run(
      'mmap',
      w.p.task.mmapAt(
        BASE,
        512 * PAGE,
        PROT_READ | PROT_WRITE,
        MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_FIXED,
      ),
    );
    expect(a).toBe(BASE);
    const snap = newRange(w, BASE, 2);
    expect(fault(w, snap)).toBe(0);
    expect(out(snap)).toEqual([0, 0]); // no page table yet: a hole
    const range = newRange(w, BASE + 510 * PAGE, 2, { defaultFlags: REQ + REQ_W });
    expect(fault(w, range)).toBe(0);
    const head = pfnAt(w, BASE);
    expect(out(range)).toEqual([head + 510 + V + W + ORDER9, head + 511 + V + W + ORDER9]);
  });
});

describe('hugetlb entries (hmm_vma_walk_hugetlb_entry)', () => {
  function hugetlbWithTable(): ReturnType<typeof modernWorld> {
    const w = modernWorld({ hugetlbPages: 1 });
    const flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_FIXED;
    expect(w.sim.run('mmap', w.p.task.mmapAt(BASE, 512 * PAGE, PROT_READ | PROT_WRITE, flags))).toBe(BASE);
    mapAt(w, BASE + 512 * PAGE, 1);
    touch(w, BASE + 512 * PAGE, [0]); // the PMD table now exists: the hugetlb entry is a none PMD
    return w;
  }

  it("only the span's first page's request counts: a request on page 1 alone faults nothing", () => {
    const w = hugetlbWithTable();
    const range = newRange(w, BASE, 3, { pfnFlagsMask: REQ });
    range.hmmPfns.set([0, REQ, REQ]);
    expect(fault(w, range)).toBe(0);
    // a none entry not faulted: pte_pfn(none) = 0 plus the subpage offset, with the order field
    expect(out(range)).toEqual([ORDER9, 1 + ORDER9, 2 + ORDER9]);
    expect(w.sim.hugetlbFree()).toBe(1);
  });

  it('a request on the first page faults the huge page in', () => {
    const w = hugetlbWithTable();
    const range = newRange(w, BASE, 2, { pfnFlagsMask: REQ });
    range.hmmPfns.set([REQ, 0]);
    expect(fault(w, range)).toBe(0);
    const head = pfnAt(w, BASE);
    expect(out(range)).toEqual([head + V + ORDER9, head + 1 + V + ORDER9]);
    expect(w.sim.hugetlbFree()).toBe(0);
  });
});

describe('non-present PMD entries (hmm_vma_handle_absent_pmd), hand-made: the core makes none', () => {
  /** A 2 MiB VMA at BASE whose PMD entry is `type`'s swap entry for pfn `head`. */
  function absentPmd(w: ReturnType<typeof modernWorld>, type: number, head: number): void {
    mapAt(w, BASE, 512);
    const { pt } = w.sim.kernel;
    pt.set(pt.pmdSlotAlloc(w.mm.pgd, BASE), swpEntryLo(type, head), pteHiOf(head));
  }

  it("this device's private THP: every subpage VALID | WRITE with order 9, even when a fault is requested", () => {
    const w = modernWorld();
    const dev = ownedDevice(w, 'me', 512);
    absentPmd(w, SWP_DEVICE_WRITE, dev.first);
    const range = newRange(w, BASE + 510 * PAGE, 2, { defaultFlags: REQ + REQ_W, devPrivateOwner: 'me' });
    expect(fault(w, range)).toBe(0);
    expect(out(range)).toEqual([dev.first + 510 + V + W + ORDER9, dev.first + 511 + V + W + ORDER9]);
    expect(dev.faults).toEqual([]);
  });

  it("another owner's private THP reads ERROR when not requested; a hwpoison PMD is -EFAULT when requested", () => {
    const w = modernWorld();
    const dev = ownedDevice(w, 'other', 512);
    absentPmd(w, SWP_DEVICE_READ, dev.first);
    const range = newRange(w, BASE, 2, { devPrivateOwner: 'me' });
    expect(fault(w, range)).toBe(0);
    expect(out(range)).toEqual([ERR, ERR]);
    const w2 = modernWorld();
    absentPmd(w2, SWP_HWPOISON, 0);
    expect(fault(w2, newRange(w2, BASE, 1, { defaultFlags: REQ }))).toBe(-EFAULT);
  });
});

describe('VMAs hmm_range_fault does not walk', () => {
  it('no VMA: ERROR when not requested, -EFAULT when requested', () => {
    const w = modernWorld();
    mapAt(w, BASE, 1);
    touch(w, BASE, [0]);
    const range = newRange(w, BASE, 3);
    expect(fault(w, range)).toBe(0);
    expect(out(range)).toEqual([pfnAt(w, BASE) + V + W, ERR, ERR]);
    const req = newRange(w, BASE, 3, { pfnFlagsMask: REQ });
    req.hmmPfns.set([0, 0, REQ]);
    expect(fault(w, req)).toBe(-EFAULT);
  });

  it('PROT_NONE (no VM_READ): ERROR over the VMA when not requested, -EFAULT when requested', () => {
    const w = modernWorld();
    mapAt(w, BASE, 2, PROT_NONE);
    const range = newRange(w, BASE, 2);
    expect(fault(w, range)).toBe(0);
    expect(out(range)).toEqual([ERR, ERR]);
    expect(fault(w, newRange(w, BASE, 2, { defaultFlags: REQ }))).toBe(-EFAULT);
  });

  it('VM_PFNMAP: ERROR / -EFAULT; VM_MIXEDMAP is walked like any VMA', () => {
    const w = modernWorld();
    const pfnmap = w.p.mmapSpecial(PAGE, PROT_READ, 'pfnmap');
    const range = newRange(w, pfnmap, 1);
    expect(fault(w, range)).toBe(0);
    expect(out(range)).toEqual([ERR]);
    expect(fault(w, newRange(w, pfnmap, 1, { defaultFlags: REQ }))).toBe(-EFAULT);
    const mixed = w.p.mmapSpecial(PAGE, PROT_READ | PROT_WRITE, 'mixedmap');
    const m = newRange(w, mixed, 1, { defaultFlags: REQ });
    expect(fault(w, m)).toBe(0);
    // vm_insert_page maps a private VMA's page read-only (its protection_map entry is COW)
    expect(out(m)).toEqual([pfnAt(w, mixed) + V]);
  });
});

describe('PROT_NONE and special PTEs in a readable VMA', () => {
  it('a PROT_NONE PTE (NUMA hint): the pfn with no flags; requested, it is faulted back', () => {
    const w = modernWorld();
    mapAt(w, BASE, 1);
    touch(w, BASE, [0]);
    const pfn = pfnAt(w, BASE);
    const { pt } = w.sim.kernel;
    const slot = slotOf(w, BASE);
    pt.lo[slot] = ((pt.lo[slot] as number) & ~(_PAGE_PRESENT | 2)) | _PAGE_PROTNONE;
    const range = newRange(w, BASE, 1);
    expect(fault(w, range)).toBe(0);
    expect(out(range)).toEqual([pfn]);
    const req = newRange(w, BASE, 1, { defaultFlags: REQ });
    expect(fault(w, req)).toBe(0);
    // the model's do_numa_page restores the VMA's private protection (read-only until written)
    expect(out(req)).toEqual([pfn + V]);
  });

  it('a special PTE that is not the zero page: ERROR, or -EFAULT when requested', () => {
    const w = modernWorld();
    mapAt(w, BASE, 1);
    w.sim.kernel.pt.set(
      slotOf(w, BASE),
      pteLoOf(42, _PAGE_PRESENT | _PAGE_USER | _PAGE_SPECIAL),
      pteHiOf(42),
    );
    const range = newRange(w, BASE, 1);
    expect(fault(w, range)).toBe(0);
    expect(out(range)).toEqual([ERR]);
    expect(fault(w, newRange(w, BASE, 1, { defaultFlags: REQ }))).toBe(-EFAULT);
  });
});

describe('non-present entries', () => {
  it('swap: 0 when not requested; requested, handle_mm_fault fails (no swap device): -EFAULT', () => {
    const w = modernWorld();
    mapAt(w, BASE, 1);
    setSwapEntry(w, BASE);
    const range = newRange(w, BASE, 1);
    range.hmmPfns[0] = 123;
    expect(fault(w, range)).toBe(0);
    expect(out(range)).toEqual([0]);
    expect(fault(w, newRange(w, BASE, 1, { defaultFlags: REQ }))).toBe(-EFAULT);
  });

  it('hwpoison: 0 when not requested, -EFAULT when requested', () => {
    const w = modernWorld();
    mapAt(w, BASE, 1);
    setHwpoison(w, BASE);
    const range = newRange(w, BASE, 1);
    expect(fault(w, range)).toBe(0);
    expect(out(range)).toEqual([0]);
    expect(fault(w, newRange(w, BASE, 1, { defaultFlags: REQ }))).toBe(-EFAULT);
  });

  it("this device's private pages (pgmap owner == dev_private_owner): reported, never faulted", () => {
    const w = modernWorld();
    const owner = { name: 'dev0' };
    const dev = ownedDevice(w, owner);
    mapAt(w, BASE, 2);
    setDevicePrivate(w, BASE, dev.first, true);
    setDevicePrivate(w, BASE + PAGE, dev.first + 1, false);
    const range = newRange(w, BASE, 2, { defaultFlags: REQ + REQ_W, devPrivateOwner: owner });
    expect(fault(w, range)).toBe(0);
    expect(out(range)).toEqual([dev.first + V + W, dev.first + 1 + V]);
    expect(dev.faults).toEqual([]);
  });

  it("another owner's private page: 0 unrequested; requested, migrate_to_ram runs and the RAM page is reported", () => {
    const w = modernWorld();
    const dev = ownedDevice(w, 'other');
    mapAt(w, BASE, 1);
    setDevicePrivate(w, BASE, dev.first, true);
    const range = newRange(w, BASE, 1, { devPrivateOwner: 'me' });
    expect(fault(w, range)).toBe(0);
    expect(out(range)).toEqual([0]);
    expect(dev.faults).toEqual([]);
    const req = newRange(w, BASE, 1, { defaultFlags: REQ, devPrivateOwner: 'me' });
    expect(fault(w, req)).toBe(0);
    expect(dev.faults.map((f) => f.address)).toEqual([BASE]);
    expect(out(req)).toEqual([pfnAt(w, BASE) + V + W]);
    expect(w.sim.kernel.mem.store.isZoneDevice(pfnAt(w, BASE))).toBe(false);
  });

  it('a device-exclusive entry: 0 when not requested; requested, the fault restores it', () => {
    const w = modernWorld({ kernel: 'v6.19' });
    mapAt(w, BASE, 1);
    touch(w, BASE, [0]);
    const pfn = pfnAt(w, BASE);
    const got = w.sim.run(
      'make_device_exclusive',
      withMmapRead(w.mm, () => makeDeviceExclusive(w.mm, BASE, 'dev')),
    );
    expect(got).toBe(pfn);
    w.sim.kernel.mem.unlockPage(pfn); // the driver's folio_unlock + folio_put
    w.sim.kernel.mem.putPage(pfn);
    const range = newRange(w, BASE, 1, { devPrivateOwner: 'dev' });
    expect(fault(w, range)).toBe(0);
    expect(out(range)).toEqual([0]);
    const req = newRange(w, BASE, 1, { defaultFlags: REQ, devPrivateOwner: 'dev' });
    // the restore runs inside a CLEAR invalidation of the page: the range must be walked again
    expect(fault(w, req)).toBe(-EBUSY);
    expect(w.invalidations.at(-1)?.event).toBe(MMU_NOTIFY_CLEAR);
    req.notifierSeq = readBegin(w);
    expect(fault(w, req)).toBe(0);
    expect(out(req)).toEqual([pfn + V + W]);
    expect(w.p.pte(BASE).kind).toBe('present');
  });

  it('a pgmap with no owner matches a range with none (NULL == NULL)', () => {
    const w = modernWorld();
    const dev = ownedDevice(w, undefined);
    mapAt(w, BASE, 1);
    setDevicePrivate(w, BASE, dev.first, false);
    const range = newRange(w, BASE, 1, { defaultFlags: REQ });
    expect(fault(w, range)).toBe(0);
    expect(out(range)).toEqual([dev.first + V]);
    expect(dev.faults).toEqual([]);
  });
});

describe('the span hmm_vma_fault faults', () => {
  it('a none PTE: from that page to the end of its PMD span in the range, even pages not requested', () => {
    const w = modernWorld();
    mapAt(w, BASE, 4);
    touch(w, BASE, [0]); // the PTE table exists; pages 1..3 are none
    const range = newRange(w, BASE, 4, { pfnFlagsMask: REQ });
    range.hmmPfns.set([0, REQ, 0, 0]);
    const before = pgfaults(w);
    expect(fault(w, range)).toBe(0);
    expect(pgfaults(w) - before).toBe(3); // pages 1, 2 and 3
    expect(out(range)).toEqual([pfnAt(w, BASE) + V + W, V, V, V]);
  });

  it('a PTE table hole (none PMD): one page asking for write makes every page of the hole a write fault', () => {
    const w = modernWorld();
    mapAt(w, BASE, 4);
    const range = newRange(w, BASE, 4, { defaultFlags: REQ, pfnFlagsMask: REQ_W });
    range.hmmPfns.set([0, 0, REQ_W, 0]);
    expect(fault(w, range)).toBe(0);
    expect(out(range)).toEqual([0, 1, 2, 3].map((i) => pfnAt(w, BASE + i * PAGE) + V + W));
    expect(w.p.rss().anon).toBe(4);
  });

  it('a page not requested before the first requested one keeps reporting 0', () => {
    const w = modernWorld();
    mapAt(w, BASE, 4);
    touch(w, BASE, [0]);
    const range = newRange(w, BASE, 4, { pfnFlagsMask: REQ });
    range.hmmPfns.set([0, 0, 0, REQ]);
    expect(fault(w, range)).toBe(0);
    expect(out(range)).toEqual([pfnAt(w, BASE) + V + W, 0, 0, ZERO_PFN + V]);
    expect(ptePfn(w.sim.kernel.pt.lo[slotOf(w, BASE + PAGE)] as number, 0)).toBe(0);
  });

  it('an upper-level hole (none PGD entry) is one hole: one late request faults every page of it', () => {
    const w = modernWorld();
    mapAt(w, BASE, 1024); // two PMD spans, in a PGD slot nothing else uses
    const range = newRange(w, BASE, 1024, { pfnFlagsMask: REQ });
    range.hmmPfns[1023] = REQ;
    const before = pgfaults(w);
    expect(fault(w, range)).toBe(0);
    expect(pgfaults(w) - before).toBe(1024);
    expect(out(range).every((e) => e === ZERO_PFN + V)).toBe(true);
  });

  it('a none PMD under a populated PUD is a hole of its PMD span only', () => {
    const w = modernWorld();
    mapAt(w, BASE, 1024);
    touch(w, BASE, [0]); // the PMD table exists; the second PMD span is a none PMD entry
    const range = newRange(w, BASE + 512 * PAGE, 512, { pfnFlagsMask: REQ });
    range.hmmPfns[511] = REQ;
    const before = pgfaults(w);
    expect(fault(w, range)).toBe(0);
    expect(pgfaults(w) - before).toBe(512);
    const first = newRange(w, BASE, 512, { pfnFlagsMask: REQ });
    first.hmmPfns[511] = REQ;
    const before2 = pgfaults(w);
    expect(fault(w, first)).toBe(0);
    expect(pgfaults(w) - before2).toBe(1); // a PTE table: only the requested none PTE (the last)
  });
});
