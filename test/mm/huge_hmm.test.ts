/** HMM and migrate_vma on transparent huge pages (v5.3 paths: hmm_vma_handle_pmd, the collect split). */

import { describe, expect, it } from 'vitest';
import { checkAccounting } from '../../src/check/accounting.js';
import { MADV_HUGEPAGE } from '../../src/mm/madvise.js';
import { BASE, E, fault, mapAt, mirrorAndRange, NONE, PAGE, snapshot, V, W, world } from '../hmm/helpers.js';

const PMD_PAGES = 512;

function thpWorld(): ReturnType<typeof world> {
  const w = world();
  mapAt(w, BASE, PMD_PAGES);
  w.p.madvise(BASE, PMD_PAGES * PAGE, MADV_HUGEPAGE);
  return w;
}

describe('hmm_range_snapshot / hmm_range_fault on a huge PMD', () => {
  it('snapshot fills every page of the PMD with its subpage pfn and the PMD write bit', () => {
    const w = thpWorld();
    w.p.write(BASE, Uint8Array.of(1));
    const head = w.p.pte(BASE).pfn;
    const { range } = mirrorAndRange(w, BASE + 8 * PAGE, 16);
    expect(snapshot(w, range)).toBe(16);
    expect([...range.pfns]).toEqual(Array.from({ length: 16 }, (_, i) => E(head + 8 + i, W)));
  });

  it('the huge zero page reads as read-only pfns; a write fault replaces it with a THP', () => {
    const w = thpWorld();
    w.p.read(BASE, 1);
    const zero = w.sim.kernel.thp.hugeZeroPfn;
    const { range } = mirrorAndRange(w, BASE, 4);
    expect(snapshot(w, range)).toBe(4);
    expect([...range.pfns]).toEqual([E(zero), E(zero + 1), E(zero + 2), E(zero + 3)]);
    const { range: wr } = mirrorAndRange(w, BASE + 2 * PAGE, 2, { defaultFlags: V | W });
    expect(fault(w, wr)).toBe(2);
    const p2 = w.p.pte(BASE + 2 * PAGE);
    expect(p2).toMatchObject({ order: 9, write: true });
    expect([...wr.pfns]).toEqual([E(p2.pfn, W), E(p2.pfn + 1, W)]);
    expect(w.p.rss().anon).toBe(512);
    expect(checkAccounting(w.sim.kernel)).toEqual([]);
  });

  it('PROT_NONE huge PMD reads as NONE in a snapshot', () => {
    const w = thpWorld();
    w.p.write(BASE, Uint8Array.of(1));
    w.p.mprotect(BASE, PMD_PAGES * PAGE, 0);
    expect(w.p.pte(BASE)).toMatchObject({ order: 9, kind: 'protnone' });
    const { range } = mirrorAndRange(w, BASE, 2);
    snapshot(w, range);
    expect([...range.pfns]).toEqual([NONE, NONE]);
  });
});

describe('migrate_vma on a THP (v5.3: split_huge_page in collect)', () => {
  it('migrating part of a PMD-mapped THP splits the compound page, then migrates the subpages', () => {
    const w = world();
    mapAt(w, BASE, PMD_PAGES);
    w.p.madvise(BASE, PMD_PAGES * PAGE, MADV_HUGEPAGE);
    w.p.write(BASE + 3 * PAGE, Uint8Array.of(7));
    const head = w.p.pte(BASE).pfn;
    const dev = w.sim.openDevice(0, w.p);
    const r = dev.migrate(BASE + 2 * PAGE, 2);
    expect(r.cpages).toBe(2);
    expect(w.sim.kernel.counters.get('thp_split_page')).toBe(1);
    expect(w.p.pte(BASE + 3 * PAGE).kind).toBe('device-private');
    expect(w.p.pte(BASE).kind).toBe('present');
    expect(w.p.pte(BASE)).toMatchObject({ order: 0, pfn: head });
    // The split made 512 small pages; two went to the device and were freed.
    expect(w.sim.page(head + 5)).toMatchObject({ refcount: 1, mapcount: 1, compoundHead: head + 5 });
    expect(w.sim.page(head + 3).flags).toEqual(['buddy']);
    expect(w.p.read(BASE + 3 * PAGE, 1)).toEqual(Uint8Array.of(7));
    expect(w.p.rss().anon).toBe(512);
    expect(checkAccounting(w.sim.kernel)).toEqual([]);
  });
});
