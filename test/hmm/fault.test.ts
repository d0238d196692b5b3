/**
 * hmm_range_snapshot / hmm_range_fault: return codes (§2.11), the page count and its cursor (§2.6),
 * PMD-chunk faulting (§2.10), default_flags / pfn_flags_mask (§1.5), block, VM_WRITE (v5.4).
 */

import { describe, expect, it } from 'vitest';
import { PMD_SIZE } from '../../src/core/addr.js';
import { hmmRangeFault, hmmRangeRegister, hmmRangeSnapshot } from '../../src/hmm/seed/index.js';
import { EFAULT, EINVAL, EPERM, PROT_READ, PROT_WRITE } from '../../src/index.js';
import { FAULT_FLAG_ALLOW_RETRY, ZERO_PFN } from '../../src/mm/index.js';
import {
  BASE,
  DP,
  E,
  fault,
  MARK,
  mapAt,
  mirrorAndRange,
  NONE,
  newRange,
  out,
  PAGE,
  recorder,
  recordingMirror,
  registerMirror,
  setDevicePrivate,
  setHwpoison,
  snapshot,
  stubDevice,
  touch,
  V,
  W,
  withMmapRead,
  world,
} from './helpers.js';

const PMD_PAGES = PMD_SIZE / PAGE;

function pfnAt(w: ReturnType<typeof world>, addr: number): number {
  return w.p.pte(addr).pfn;
}

describe('§2.6 the page count comes from the walk cursor', () => {
  it('a range ending in an unpopulated PMD span returns fewer pages than npages', () => {
    const w = world();
    mapAt(w, BASE, 2 * PMD_PAGES);
    touch(w, BASE, [0]);
    const { range } = mirrorAndRange(w, BASE, 2 * PMD_PAGES);
    range.pfns.fill(MARK);
    // span 1: PTE table walked to its end (cursor = its end); span 2: a hole (cursor = its start)
    expect(snapshot(w, range)).toBe(PMD_PAGES);
    expect(range.pfns[0]).toBe(E(pfnAt(w, BASE), W));
    // every entry was written anyway
    expect(range.pfns.every((x) => x !== MARK)).toBe(true);
    expect(range.pfns[2 * PMD_PAGES - 1]).toBe(NONE);
  });

  it('a populated last span gives the full count; an untouched range gives 0', () => {
    const w = world();
    mapAt(w, BASE, 2 * PMD_PAGES);
    touch(w, BASE, [2 * PMD_PAGES - 1]);
    const { range } = mirrorAndRange(w, BASE, 2 * PMD_PAGES);
    expect(snapshot(w, range)).toBe(2 * PMD_PAGES);

    const w2 = world();
    mapAt(w2, BASE, 8);
    const r2 = mirrorAndRange(w2, BASE, 8).range;
    expect(snapshot(w2, r2)).toBe(0);
  });

  it('fault: each hole is faulted then rewalked, so a fully faulted range counts every page', () => {
    const w = world();
    mapAt(w, BASE, 2 * PMD_PAGES);
    const { range } = mirrorAndRange(w, BASE, 2 * PMD_PAGES, { defaultFlags: V });
    expect(fault(w, range)).toBe(2 * PMD_PAGES);
    expect(range.pfns.every((x) => x === E(ZERO_PFN))).toBe(true);
  });

  it('the cursor comes from the last VMA walked', () => {
    const w = world();
    mapAt(w, BASE, 4);
    mapAt(w, BASE + 4 * PAGE, 4, PROT_READ);
    touch(w, BASE, [0, 1, 2, 3]);
    const { range } = mirrorAndRange(w, BASE, 8);
    // second VMA has no PTE table entries? It shares the first VMA's PTE table: full count.
    expect(snapshot(w, range)).toBe(8);
  });
});

describe("§2.10 faulting is per PMD chunk, with the first page's read/write decision", () => {
  it('from the first page needing a fault to the end of the chunk, requested or not', () => {
    const w = world();
    mapAt(w, BASE, 8);
    touch(w, BASE, [0]);
    const { range } = mirrorAndRange(w, BASE, 8, { pfnFlagsMask: V | W });
    range.pfns.set([0, 0, 0, V, 0, 0, 0, 0]);
    expect(fault(w, range)).toBe(8);
    const z = E(ZERO_PFN);
    expect(out(range)).toEqual([E(pfnAt(w, BASE), W), NONE, NONE, z, z, z, z, z]);
    // pages 4..7 were not asked for, but are now mapped (zero page); 1 and 2 were left alone
    expect(w.p.pte(BASE + 7 * PAGE).kind).toBe('present');
    expect(w.p.pte(BASE + PAGE).kind).toBe('none');
  });

  it('a write decision write-faults every page of the chunk (COW / new pages)', () => {
    const w = world();
    mapAt(w, BASE, 8);
    touch(w, BASE, [0]);
    const { range } = mirrorAndRange(w, BASE, 8, { pfnFlagsMask: V | W });
    range.pfns.set([0, 0, 0, V | W, 0, 0, 0, 0]);
    expect(fault(w, range)).toBe(8);
    expect(w.p.rss().anon).toBe(6);
    for (let i = 3; i < 8; i++) expect(range.pfns[i]).toBe(E(pfnAt(w, BASE + i * PAGE), W));
  });

  it("in a hole the fault starts at the hole's start, not at the requested page", () => {
    const w = world();
    mapAt(w, BASE, 8);
    const { range } = mirrorAndRange(w, BASE, 8, { pfnFlagsMask: V });
    range.pfns.set([0, 0, 0, V, 0, 0, 0, 0]);
    expect(fault(w, range)).toBe(8);
    expect(out(range)).toEqual(new Array(8).fill(E(ZERO_PFN)));
    expect(w.p.pte(BASE).kind).toBe('present');
  });

  it('request entries in the faulted span are overwritten with NONE first: their requests are lost', () => {
    const w = world();
    mapAt(w, BASE, 8);
    touch(w, BASE, [0]);
    const { range } = mirrorAndRange(w, BASE, 8, { pfnFlagsMask: V | W });
    // page 3 asks to read, page 5 to write; page 3's read decision is used for 3..7, and on the
    // rewalk page 5's request is NONE, so it is never write-faulted
    range.pfns.set([0, 0, 0, V, 0, V | W, 0, 0]);
    expect(fault(w, range)).toBe(8);
    expect(range.pfns[5]).toBe(E(ZERO_PFN));
    expect(w.p.pte(BASE + 5 * PAGE).write).toBe(false);
  });

  it('the chunk ends at the PMD boundary: the next chunk is decided on its own', () => {
    const w = world();
    const start = BASE + PMD_SIZE - 2 * PAGE;
    mapAt(w, start, 4);
    touch(w, start, [0]);
    const { range } = mirrorAndRange(w, start, 4, { pfnFlagsMask: V | W });
    range.pfns.set([0, V | W, 0, 0]);
    // the range ends in a hole that was not faulted: the count stops at the hole's start
    expect(fault(w, range)).toBe(2);
    // page 1 ends the first chunk; pages 2, 3 (next PMD span, a hole) were not requested
    expect(out(range)).toEqual([E(pfnAt(w, start), W), E(pfnAt(w, start + PAGE), W), NONE, NONE]);
    expect(w.p.pte(start + 2 * PAGE).kind).toBe('none');
  });
});

describe("§1.5 default_flags and pfn_flags_mask (the doc's examples)", () => {
  // The doc uses VALID = 1 << 63 and WRITE = 1 << 62; entries here keep flags below 2**pfnShift.
  const tables = { flags: [1 << 11, 1 << 10, 1 << 9], values: [1 << 8, 0, 1 << 7], pfnShift: 12 };
  const VV = 1 << 11;
  const WW = 1 << 10;
  const e = (pfn: number, w = 0) => pfn * 4096 + (VV | w);

  it('default_flags = VALID, pfn_flags_mask = 0: every page faulted with at least read', () => {
    const w = world();
    mapAt(w, BASE, 4);
    const { range } = mirrorAndRange(w, BASE, 4, { ...tables, defaultFlags: VV, pfnFlagsMask: 0 });
    range.pfns.fill(WW); // ignored: the mask is 0
    expect(fault(w, range)).toBe(4);
    expect(out(range)).toEqual([e(0), e(0), e(0), e(0)]);
  });

  it('default VALID, mask WRITE, pfns[k] = WRITE: write for page k (and, chunk-wise, the pages after it)', () => {
    const w = world();
    mapAt(w, BASE, 4);
    w.p.read(BASE, 4 * PAGE); // all four map the zero page, read-only
    const { range } = mirrorAndRange(w, BASE, 4, { ...tables, defaultFlags: VV, pfnFlagsMask: WW });
    range.pfns.set([0, WW, 0, 0]);
    expect(fault(w, range)).toBe(4);
    expect(range.pfns[0]).toBe(e(0));
    expect(range.pfns[1]).toBe(e(pfnAt(w, BASE + PAGE), WW));
    // the CPU PTE of page 1 was not writable, so handle_mm_fault ran with write from page 1 to the
    // end of the chunk (§2.10): pages 2 and 3 were COWed too
    expect(range.pfns[3]).toBe(e(pfnAt(w, BASE + 3 * PAGE), WW));
    expect(pfnAt(w, BASE)).toBe(ZERO_PFN);
  });

  it('WRITE is reported for every page the CPU maps writable, whatever the request', () => {
    const w = world();
    mapAt(w, BASE, 2);
    touch(w, BASE, [0, 1]);
    const { range } = mirrorAndRange(w, BASE, 2, { ...tables, defaultFlags: VV, pfnFlagsMask: 0 });
    expect(fault(w, range)).toBe(2);
    expect(out(range)).toEqual([e(pfnAt(w, BASE), WW), e(pfnAt(w, BASE + PAGE), WW)]);
    range.defaultFlags = 0;
    expect(snapshot(w, range)).toBe(2);
    expect(range.pfns[1]).toBe(e(pfnAt(w, BASE + PAGE), WW));
  });

  it("pfn_flags_mask = -1 (the kernel's -1UL) keeps every request bit of the entries", () => {
    const w = world();
    mapAt(w, BASE, 2);
    const { range } = mirrorAndRange(w, BASE, 2, { ...tables, pfnFlagsMask: -1 });
    range.pfns.set([VV | WW, 0]);
    expect(fault(w, range)).toBe(2);
    // hole: page 0's write decision covers the chunk
    expect(range.pfns[0]).toBe(e(pfnAt(w, BASE), WW));
    expect(range.pfns[1]).toBe(e(pfnAt(w, BASE + PAGE), WW));
  });
});

describe('§2.9 the need-fault decision', () => {
  it('no VALID in the request: never faulted, even with WRITE', () => {
    const w = world();
    mapAt(w, BASE, 2);
    w.p.read(BASE, 2 * PAGE);
    const { range } = mirrorAndRange(w, BASE, 2, { pfnFlagsMask: V | W });
    range.pfns.set([W, W]);
    expect(fault(w, range)).toBe(2);
    expect(out(range)).toEqual([E(ZERO_PFN), E(ZERO_PFN)]);
  });

  it('device-private: DP|W request on a read-only entry faults with write', () => {
    const w = world();
    mapAt(w, BASE, 1);
    const dev = stubDevice(w);
    setDevicePrivate(w, BASE, dev.first, false);
    const { range } = mirrorAndRange(w, BASE, 1, { defaultFlags: V | DP | W });
    expect(fault(w, range)).toBe(1);
    expect(dev.faults.length).toBe(1);
    expect(range.pfns[0]).toBe(E(pfnAt(w, BASE), W));
  });
});

describe('§2.11 return codes', () => {
  it('-EINVAL when page_shift is not PAGE_SHIFT (no hugetlbfs)', () => {
    const w = world();
    mapAt(w, BASE, 4);
    const rec = recorder();
    const m = recordingMirror('m', rec);
    registerMirror(w, m);
    const range = newRange(4);
    expect(
      w.sim.run(
        'reg',
        (function* () {
          yield 'register';
          return hmmRangeRegister(range, m, BASE, BASE + 4 * PAGE, 13);
        })(),
      ),
    ).toBe(0);
    range.pfns.fill(MARK);
    expect(snapshot(w, range)).toBe(-EINVAL);
    expect(fault(w, range)).toBe(-EINVAL);
    expect(out(range)).toEqual([MARK, MARK, MARK, MARK]);
  });

  it('-EPERM for a write request on a VMA without VM_WRITE (v5.4 fix; v5.3 spun forever)', () => {
    const w = world();
    mapAt(w, BASE, 4);
    touch(w, BASE, [0, 1, 2, 3]);
    w.p.mprotect(BASE + 2 * PAGE, 2 * PAGE, PROT_READ);
    const { range } = mirrorAndRange(w, BASE, 4, { pfnFlagsMask: V | W });
    range.pfns.set([V | W, V | W, V | W, V | W]);
    expect(fault(w, range)).toBe(-EPERM);
    // the first VMA is fine (writable); NONE from the failing page on
    expect(out(range)).toEqual([E(pfnAt(w, BASE), W), E(pfnAt(w, BASE + PAGE), W), NONE, NONE]);
    // a read request on the read-only VMA is fine
    range.pfns.set([V, V, V, V]);
    expect(fault(w, range)).toBe(4);
    expect(range.pfns[3]).toBe(E(pfnAt(w, BASE + 3 * PAGE)));
  });

  it('-EPERM for a write request on an unpopulated read-only VMA, within a small step budget', () => {
    // Without the v5.4 check the hole is write-faulted, nothing becomes writable, and the walk
    // retries forever (v5.3's livelock): the step limit turns that hang into a quick failure.
    const w = world(256, 5_000);
    mapAt(w, BASE, 4, PROT_READ);
    const { range } = mirrorAndRange(w, BASE, 4, { defaultFlags: V | W });
    expect(fault(w, range)).toBe(-EPERM);
    expect(out(range)).toEqual([NONE, NONE, NONE, NONE]);
  });

  it('-EFAULT when handle_mm_fault fails (VM_FAULT_SIGBUS past the end of a file)', () => {
    const w = world();
    const f = w.sim.createFile(PAGE);
    const a = w.p.mmap(2 * PAGE, PROT_READ | PROT_WRITE, 0x02, f); // MAP_PRIVATE, 1 page of file
    const { range } = mirrorAndRange(w, a, 2, { defaultFlags: V });
    expect(fault(w, range)).toBe(-EFAULT);
    // Both pages were faulted in one go from the hole's start (the cursor): page 0 is mapped on
    // the CPU, but the error overwrite from the cursor turned both entries into NONE.
    expect(w.p.pte(a).kind).toBe('present');
    expect(out(range)).toEqual([NONE, NONE]);
  });

  it('block = false passes FAULT_FLAG_ALLOW_RETRY; this mm never retries, so no -EAGAIN', () => {
    const w = world();
    mapAt(w, BASE, 1);
    const dev = stubDevice(w);
    setDevicePrivate(w, BASE, dev.first, true);
    const { range } = mirrorAndRange(w, BASE, 1, { defaultFlags: V | DP });
    expect(fault(w, range, false)).toBe(1);
    expect(dev.faults[0]!.flags & FAULT_FLAG_ALLOW_RETRY).toBe(FAULT_FLAG_ALLOW_RETRY);
    setDevicePrivate(w, BASE + 0, dev.first + 1, true);
    expect(fault(w, range, true)).toBe(1);
    expect(dev.faults[1]!.flags & FAULT_FLAG_ALLOW_RETRY).toBe(0);
  });

  it('mmap_sem must be held (lockdep)', () => {
    const w = world();
    mapAt(w, BASE, 1);
    const { range } = mirrorAndRange(w, BASE, 1);
    expect(() => w.sim.run('snap', hmmRangeSnapshot(range))).toThrow(/lockdep_assert_held failed.*mmap_sem/);
    expect(() => w.sim.run('fault', hmmRangeFault(range, true))).toThrow(
      /lockdep_assert_held failed.*mmap_sem/,
    );
  });

  it('pfns must have one entry per page', () => {
    const w = world();
    mapAt(w, BASE, 4);
    const { range } = mirrorAndRange(w, BASE, 4);
    range.pfns = new Float64Array(3);
    expect(() => snapshot(w, range)).toThrow(/range\.pfns/);
  });
});

describe('errors: snapshot goes on with the next VMA, fault stops', () => {
  it('snapshot: an error in the first VMA leaves its tail at input values, the second VMA is walked', () => {
    const w = world();
    mapAt(w, BASE, 3);
    mapAt(w, BASE + 3 * PAGE, 2, PROT_READ);
    touch(w, BASE, [0]);
    w.p.read(BASE + 3 * PAGE, 2 * PAGE);
    setHwpoison(w, BASE + PAGE);
    const { range } = mirrorAndRange(w, BASE, 5);
    range.pfns.fill(MARK);
    expect(snapshot(w, range)).toBe(5);
    expect(out(range)).toEqual([E(pfnAt(w, BASE), W), 8, MARK, E(ZERO_PFN), E(ZERO_PFN)]);
  });
});

describe('first touches: one scheduling point per run of untouched anonymous pages', () => {
  it('a run is faulted in one step; a page that needs more than do_anonymous_page keeps its own', () => {
    const w = world();
    mapAt(w, BASE, 8);
    w.p.read(BASE + 5 * PAGE, 1); // the zero page: a write to it is a copy, not a first touch
    const { range } = mirrorAndRange(w, BASE, 8, { defaultFlags: V | W });
    const points: string[] = [];
    let done = false;
    const ex = w.sim.executor({
      pick: (runnable, last) => (runnable.length > 1 && last === runnable[0] ? 1 : 0),
    });
    const driver = ex.spawn(
      'driver',
      (function* () {
        const r = yield* withMmapRead(w.mm, () => hmmRangeFault(range, true));
        done = true;
        return r;
      })(),
    );
    ex.spawn(
      'observer',
      (function* () {
        while (!done) {
          points.push(driver.lastPoint);
          yield 'observe';
        }
      })(),
    );
    const res = ex.run();
    expect(res.failure?.message ?? res.status).toBe('done');
    expect(driver.result).toBe(8);
    const faults = points.filter((p) => p.startsWith('hmm_vma_do_fault'));
    expect(faults).toEqual([0, 5, 6].map((i) => `hmm_vma_do_fault 0x${(BASE + i * PAGE).toString(16)}`));
    for (let i = 0; i < 8; i++) expect(range.pfns[i]).toBe(E(pfnAt(w, BASE + i * PAGE), W));
    expect(w.sim.stats().counters.hmm_fault).toBe(8);
    expect(w.sim.stats().counters.pgfault).toBe(9);
    expect(w.p.rss().anon).toBe(8);
  });
});
