/** hugetlbfs: the pool, reservations at mmap, faults, fork/COW, zap, walks and HMM on hugetlb. */

import { describe, expect, it } from 'vitest';
import { checkAccounting } from '../../src/check/accounting.js';
import { ArgumentError, HmmError } from '../../src/core/errno.js';
import { MADV_DONTNEED, MADV_HUGEPAGE, MADV_POPULATE_WRITE } from '../../src/mm/madvise.js';
import { MAP_ANONYMOUS, MAP_FIXED, MAP_HUGETLB, MAP_SHARED, PROT_READ } from '../../src/mm/mmap.js';
import type { Process } from '../../src/sim/process.js';
import { Simulator, type SimulatorOptions } from '../../src/sim/simulator.js';
import { E, mirrorAndRange, snapshot, W } from '../hmm/helpers.js';
import { ANON, fill, mmapAt, PG, RW, thrown } from './helpers.js';

const HPAGE = 2 * 1024 * 1024;
const BASE = 0x4000_0000;
const HUGE = ANON | MAP_HUGETLB;

function hsim(opts: SimulatorOptions = {}): { sim: Simulator; p: Process } {
  const sim = new Simulator({ ramPages: 4096, devices: [], hugetlbPages: 3, ...opts });
  return { sim, p: sim.createProcess() };
}

function ok(sim: Simulator): void {
  expect(checkAccounting(sim.kernel)).toEqual([]);
}

describe('the hugetlb pool', () => {
  it('takes its pages from RAM at boot; hugetlbPages is checked', () => {
    const { sim } = hsim();
    expect([sim.hugetlbTotal(), sim.hugetlbFree(), sim.hugetlbReserved()]).toEqual([3, 3, 0]);
    expect(sim.kernel.mem.freePages).toBe(4096 - 3 * 512);
    ok(sim);
    expect(thrown(ArgumentError, () => new Simulator({ ramPages: 1024, hugetlbPages: 3 })).argument).toBe(
      'hugetlbPages',
    );
  });

  it('with no pool MAP_HUGETLB fails with ENOMEM; MAP_SHARED hugetlb is EINVAL here', () => {
    const sim = new Simulator({ ramPages: 256, devices: [] });
    const p = sim.createProcess();
    expect(thrown(HmmError, () => p.mmap(HPAGE, RW, HUGE)).code).toBe('ENOMEM');
    const q = hsim().p;
    expect(thrown(HmmError, () => q.mmap(HPAGE, RW, MAP_SHARED | MAP_ANONYMOUS | MAP_HUGETLB)).code).toBe(
      'EINVAL',
    );
  });
});

describe('MAP_HUGETLB mappings', () => {
  it('mmap reserves (rounded up to 2 MiB, aligned); a fault consumes the reservation and maps a PMD', () => {
    const { sim, p } = hsim();
    const a = p.mmap(HPAGE + PG, RW, HUGE);
    expect(a % HPAGE).toBe(0);
    expect(p.vmas()[0]).toMatchObject({ start: a, end: a + 2 * HPAGE });
    expect([sim.hugetlbFree(), sim.hugetlbReserved()]).toEqual([3, 2]);
    expect(thrown(HmmError, () => p.mmap(2 * HPAGE, RW, HUGE)).code).toBe('ENOMEM');
    p.write(a + 5 * PG, fill(3, 7));
    const e = p.pte(a + 5 * PG);
    expect(e).toMatchObject({ order: 9, write: true, kind: 'present' });
    const head = e.pfn - 5;
    expect(head % 512).toBe(0);
    expect(sim.page(head)).toMatchObject({ refcount: 1, entireMapcount: 1 });
    expect([sim.hugetlbFree(), sim.hugetlbReserved()]).toEqual([2, 1]);
    // Not in rss, not charged: hugetlb_usage instead.
    expect(p.rss().anon).toBe(0);
    expect(p.mm.hugetlbUsage).toBe(512);
    expect(sim.kernel.mem.memcgs.root.usagePages).toBe(0);
    expect(p.read(a + 5 * PG, 4)).toEqual(Uint8Array.of(7, 7, 7, 0));
    ok(sim);
    p.munmap(a, 2 * HPAGE);
    expect([sim.hugetlbFree(), sim.hugetlbReserved()]).toEqual([3, 0]);
    expect(sim.page(head).refcount).toBe(0);
    ok(sim);
  });

  it('a read fault maps the page read-only; the write reuses it', () => {
    const { sim, p } = hsim();
    const a = p.mmap(HPAGE, RW, HUGE);
    expect(p.read(a, 1)).toEqual(Uint8Array.of(0));
    expect(p.pte(a)).toMatchObject({ order: 9, write: false });
    const pfn = p.pte(a).pfn;
    p.write(a, fill(1, 1));
    expect(p.pte(a)).toMatchObject({ order: 9, write: true, pfn });
    ok(sim);
  });

  it('boundaries must be 2 MiB aligned: munmap/mprotect of part of a huge page are EINVAL', () => {
    const { sim, p } = hsim();
    const a = mmapAt(p, BASE, 2 * HPAGE, RW, HUGE | MAP_FIXED);
    expect(thrown(HmmError, () => p.munmap(a + PG, PG)).code).toBe('EINVAL');
    expect(thrown(HmmError, () => p.mprotect(a, PG, PROT_READ)).code).toBe('EINVAL');
    expect(thrown(HmmError, () => p.madvise(a, HPAGE, MADV_DONTNEED)).code).toBe('EINVAL');
    p.write(a, fill(1, 3));
    expect(thrown(HmmError, () => p.madvise(a + PG, PG, MADV_HUGEPAGE)).code).toBe('EINVAL');
    expect(p.pte(a).order).toBe(9);
    p.mprotect(a, HPAGE, PROT_READ);
    expect(p.vmas()).toHaveLength(2);
    p.munmap(a + HPAGE, HPAGE);
    // The first 2 MiB was faulted in (its reservation consumed); the second's went with munmap.
    expect([sim.hugetlbFree(), sim.hugetlbReserved()]).toEqual([2, 0]);
    ok(sim);
    expect(thrown(HmmError, () => mmapAt(p, BASE + PG, HPAGE, RW, HUGE | MAP_FIXED)).code).toBe('EINVAL');
  });

  it('MADV_POPULATE_WRITE faults the whole mapping in', () => {
    const { sim, p } = hsim();
    const a = p.mmap(2 * HPAGE, RW, HUGE);
    p.madvise(a, 2 * HPAGE, MADV_POPULATE_WRITE);
    expect([p.pte(a).order, p.pte(a + HPAGE).order]).toEqual([9, 9]);
    expect([sim.hugetlbFree(), sim.hugetlbReserved()]).toEqual([1, 0]);
    ok(sim);
  });
});

describe('fork of a private hugetlb mapping', () => {
  it('shares the page write-protected; a write copies all 2 MiB into a new pool page', () => {
    const { sim, p } = hsim();
    const a = p.mmap(HPAGE, RW, HUGE);
    p.write(a + 9 * PG, fill(1, 4));
    const head = p.pte(a).pfn;
    const c = p.fork();
    expect(c.pte(a)).toMatchObject({ order: 9, write: false, pfn: head });
    expect(p.pte(a).write).toBe(false);
    expect(sim.page(head)).toMatchObject({ refcount: 2, entireMapcount: 2 });
    expect(c.mm.hugetlbUsage).toBe(512);
    ok(sim);
    c.write(a, fill(1, 8));
    const copy = c.pte(a).pfn;
    expect(copy).not.toBe(head);
    expect(c.read(a + 9 * PG, 1)).toEqual(Uint8Array.of(4));
    expect(p.read(a, 1)).toEqual(Uint8Array.of(0));
    expect(sim.hugetlbFree()).toBe(1);
    ok(sim);
    // The parent is the only mapper now: its write reuses the page.
    p.write(a, fill(1, 2));
    expect(p.pte(a).pfn).toBe(head);
    c.exit();
    p.exit();
    expect([sim.hugetlbFree(), sim.hugetlbReserved()]).toEqual([3, 0]);
    ok(sim);
  });
});

describe('HMM on hugetlb (v5.3 hmm_vma_walk_hugetlb_entry at PAGE_SHIFT)', () => {
  it('a snapshot reports each 4 KiB page of the huge page', () => {
    const sim = new Simulator({ ramPages: 8192, hugetlbPages: 2 });
    const p = sim.createProcess();
    const w = { sim, p, mm: p.mm };
    const a = mmapAt(p, 0x7e00_0000_0000, HPAGE, RW, HUGE | MAP_FIXED);
    p.write(a, fill(1, 1));
    const head = p.pte(a).pfn;
    const { range } = mirrorAndRange(w, a + 3 * PG, 2);
    expect(snapshot(w, range)).toBe(2);
    expect([...range.pfns]).toEqual([E(head + 3, W), E(head + 4, W)]);
  });
});
