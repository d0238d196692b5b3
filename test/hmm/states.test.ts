/**
 * One test per CPU page-table state of the reference's §2.8 table: what hmm_range_snapshot and
 * hmm_range_fault report for it, with and without a fault requested.
 */

import { describe, expect, it } from 'vitest';
import { hmmRangeFault } from '../../src/hmm/seed/index.js';
import { EBUSY, EFAULT, EPERM, PROT_NONE, PROT_READ } from '../../src/index.js';
import {
  _PAGE_DEVMAP_HI,
  _PAGE_PRESENT,
  _PAGE_PROTNONE,
  _PAGE_RW,
  _PAGE_SPECIAL,
  _PAGE_USER,
  FAULT_FLAG_WRITE,
  MEMORY_DEVICE_PUBLIC,
  pteHiOf,
  pteLoOf,
  ZERO_PFN,
} from '../../src/mm/index.js';
import {
  BASE,
  DP,
  E,
  ERROR,
  fault,
  finishMigration,
  MARK,
  mapAt,
  mirrorAndRange,
  NONE,
  out,
  PAGE,
  SPECIAL,
  setDevicePrivate,
  setHwpoison,
  setSwapEntry,
  slotOf,
  snapshot,
  startMigration,
  stubDevice,
  touch,
  V,
  W,
  withMmapRead,
  world,
} from './helpers.js';

/** The pfn the CPU maps at addr. */
function pfnAt(w: ReturnType<typeof world>, addr: number): number {
  return w.p.pte(addr).pfn;
}

describe('§2.8 gap with no VMA inside the walked span', () => {
  it('snapshot: the gap reads NONE and the walk goes on into the next VMA', () => {
    const w = world();
    mapAt(w, BASE, 2);
    mapAt(w, BASE + 4 * PAGE, 2);
    touch(w, BASE, [0, 1, 4, 5]);
    const { range } = mirrorAndRange(w, BASE, 6);
    range.pfns.fill(MARK);
    expect(snapshot(w, range)).toBe(6);
    const p = (i: number) => pfnAt(w, BASE + i * PAGE);
    expect(out(range)).toEqual([E(p(0), W), E(p(1), W), NONE, NONE, E(p(4), W), E(p(5), W)]);
  });

  it('fault, gap not requested: NONE, success', () => {
    const w = world();
    mapAt(w, BASE, 2);
    mapAt(w, BASE + 4 * PAGE, 2);
    touch(w, BASE, [0, 1, 4, 5]);
    const { range } = mirrorAndRange(w, BASE, 6, { pfnFlagsMask: V });
    range.pfns.set([V, V, 0, 0, V, V]);
    expect(fault(w, range)).toBe(6);
    expect(range.pfns[2]).toBe(NONE);
    expect(range.pfns[3]).toBe(NONE);
    expect(range.pfns[4]).toBe(E(pfnAt(w, BASE + 4 * PAGE), W));
  });

  it('fault requested in the gap: -EFAULT (v5.4 fix), entries from the gap on become NONE', () => {
    const w = world();
    mapAt(w, BASE, 2);
    mapAt(w, BASE + 4 * PAGE, 2);
    touch(w, BASE, [0, 1, 4, 5]);
    const { range } = mirrorAndRange(w, BASE, 6, { defaultFlags: V });
    expect(fault(w, range)).toBe(-EFAULT);
    const p = (i: number) => pfnAt(w, BASE + i * PAGE);
    // The first VMA's entries stay; the ERROR written for the gap's first page is overwritten.
    expect(out(range)).toEqual([E(p(0), W), E(p(1), W), NONE, NONE, NONE, NONE]);
  });
});

describe('§2.8 past the last VMA', () => {
  it('the whole call is -EFAULT; earlier VMAs keep their entries, later ones their input', () => {
    for (const mode of ['snapshot', 'fault'] as const) {
      const w = world();
      mapAt(w, BASE, 2);
      touch(w, BASE, [0, 1]);
      const { range } = mirrorAndRange(w, BASE, 4, { defaultFlags: mode === 'fault' ? V : 0 });
      range.pfns.fill(MARK);
      expect(mode === 'snapshot' ? snapshot(w, range) : fault(w, range)).toBe(-EFAULT);
      expect(out(range)).toEqual([E(pfnAt(w, BASE), W), E(pfnAt(w, BASE + PAGE), W), MARK, MARK]);
    }
  });
});

describe('§2.8 VM_IO / VM_PFNMAP / VM_MIXEDMAP VMAs', () => {
  it.each(['pfnmap', 'mixedmap'] as const)('%s: -EFAULT in both modes, nothing written', (kind) => {
    const w = world();
    const a = w.p.mmapSpecial(4 * PAGE, PROT_READ, kind);
    const { range } = mirrorAndRange(w, a, 4, { defaultFlags: V });
    range.pfns.fill(MARK);
    expect(snapshot(w, range)).toBe(-EFAULT);
    expect(fault(w, range)).toBe(-EFAULT);
    expect(out(range)).toEqual([MARK, MARK, MARK, MARK]);
  });
});

describe('§2.8 VMA without VM_READ', () => {
  it('PROT_NONE: -EPERM and EVERY entry of the range is NONE, even those of earlier VMAs', () => {
    for (const mode of ['snapshot', 'fault'] as const) {
      const w = world();
      mapAt(w, BASE, 2);
      mapAt(w, BASE + 2 * PAGE, 2, PROT_NONE);
      touch(w, BASE, [0, 1]);
      const { range } = mirrorAndRange(w, BASE, 4);
      range.pfns.fill(MARK);
      expect(mode === 'snapshot' ? snapshot(w, range) : fault(w, range)).toBe(-EPERM);
      expect(out(range)).toEqual([NONE, NONE, NONE, NONE]);
    }
  });
});

describe('§2.8 pte_none / pmd_none', () => {
  it('snapshot of a never-touched range: NONE everywhere, and a count of 0 (the hole cursor)', () => {
    const w = world();
    mapAt(w, BASE, 4);
    const { range } = mirrorAndRange(w, BASE, 4);
    range.pfns.fill(MARK);
    expect(snapshot(w, range)).toBe(0);
    expect(out(range)).toEqual([NONE, NONE, NONE, NONE]);
  });

  it('snapshot of none PTEs in an existing table: NONE, full count', () => {
    const w = world();
    mapAt(w, BASE, 4);
    touch(w, BASE, [0]);
    const { range } = mirrorAndRange(w, BASE, 4);
    expect(snapshot(w, range)).toBe(4);
    expect(out(range)).toEqual([E(pfnAt(w, BASE), W), NONE, NONE, NONE]);
  });

  it('fault with read requested: every page faulted (the zero page, read-only)', () => {
    const w = world();
    mapAt(w, BASE, 4);
    const { range } = mirrorAndRange(w, BASE, 4, { defaultFlags: V });
    expect(fault(w, range)).toBe(4);
    expect(out(range)).toEqual([E(ZERO_PFN), E(ZERO_PFN), E(ZERO_PFN), E(ZERO_PFN)]);
    expect(w.p.rss().anon).toBe(0);
  });

  it('fault with write requested: new anonymous pages, writable', () => {
    const w = world();
    mapAt(w, BASE, 4);
    const { range } = mirrorAndRange(w, BASE, 4, { defaultFlags: V | W });
    expect(fault(w, range)).toBe(4);
    for (let i = 0; i < 4; i++) expect(range.pfns[i]).toBe(E(pfnAt(w, BASE + i * PAGE), W));
    expect(w.p.rss().anon).toBe(4);
  });
});

describe('§2.8 present PTE', () => {
  it('read-only (COW after fork): E(pfn) without W; a write request COWs it', () => {
    const w = world();
    mapAt(w, BASE, 2);
    touch(w, BASE, [0, 1]);
    const { range } = mirrorAndRange(w, BASE, 2, { pfnFlagsMask: V | W });
    w.p.fork();
    const old0 = pfnAt(w, BASE);
    const old1 = pfnAt(w, BASE + PAGE);
    expect(w.p.pte(BASE).write).toBe(false);
    expect(snapshot(w, range)).toBe(2);
    expect(out(range)).toEqual([E(old0), E(old1)]);

    range.pfns.set([V, V | W]);
    expect(fault(w, range)).toBe(2);
    const new1 = pfnAt(w, BASE + PAGE);
    expect(new1).not.toBe(old1);
    expect(out(range)).toEqual([E(old0), E(new1, W)]);
  });

  it('writable: E(pfn) | W whatever was requested', () => {
    const w = world();
    mapAt(w, BASE, 2);
    touch(w, BASE, [0, 1]);
    const { range } = mirrorAndRange(w, BASE, 2, { defaultFlags: V });
    expect(snapshot(w, range)).toBe(2);
    expect(range.pfns[0]).toBe(E(pfnAt(w, BASE), W));
    expect(fault(w, range)).toBe(2);
    expect(range.pfns[1]).toBe(E(pfnAt(w, BASE + PAGE), W));
  });
});

describe('§2.8 PTE_PROTNONE (NUMA hint)', () => {
  function protnoneWorld() {
    const w = world();
    mapAt(w, BASE, 2);
    touch(w, BASE, [0, 1]);
    const pt = w.sim.kernel.pt;
    const slot = slotOf(w, BASE);
    pt.lo[slot] = ((pt.lo[slot] as number) & ~(_PAGE_PRESENT | _PAGE_RW)) | _PAGE_PROTNONE;
    return w;
  }

  it('snapshot: [5.3] no CPU flags, but E() carries VALID: E(pfn)', () => {
    const w = protnoneWorld();
    const { range } = mirrorAndRange(w, BASE, 2);
    expect(w.p.pte(BASE).kind).toBe('protnone');
    expect(snapshot(w, range)).toBe(2);
    expect(range.pfns[0]).toBe(E(pfnAt(w, BASE)));
  });

  it('fault: any request faults it (NUMA fault restores it), then rewalk', () => {
    const w = protnoneWorld();
    const pfn = pfnAt(w, BASE);
    const { range } = mirrorAndRange(w, BASE, 2, { defaultFlags: V });
    expect(fault(w, range)).toBe(2);
    expect(w.p.pte(BASE).kind).toBe('present');
    expect(range.pfns[0]).toBe(E(pfn)); // restored read-only (private mapping)

    const w2 = protnoneWorld();
    const pfn2 = pfnAt(w2, BASE);
    const r2 = mirrorAndRange(w2, BASE, 2, { defaultFlags: V | W }).range;
    expect(fault(w2, r2)).toBe(2);
    expect(r2.pfns[0]).toBe(E(pfn2, W)); // NUMA fault, then the write fault reuses the page
  });
});

describe('§2.8 special PTE', () => {
  function specialWorld() {
    const w = world();
    mapAt(w, BASE, 4);
    touch(w, BASE, [0, 1, 3]);
    const spfn = w.sim.kernel.mem.allocPage();
    w.sim.kernel.pt.set(
      slotOf(w, BASE + 2 * PAGE),
      pteLoOf(spfn, _PAGE_PRESENT | _PAGE_USER | _PAGE_SPECIAL),
      pteHiOf(spfn),
    );
    return w;
  }

  it('snapshot: SPECIAL, the walk stops (error ignored): the rest of the VMA keeps its input', () => {
    const w = specialWorld();
    const { range } = mirrorAndRange(w, BASE, 4);
    range.pfns.fill(MARK);
    expect(snapshot(w, range)).toBe(2); // the cursor stopped at the special page
    expect(out(range)).toEqual([E(pfnAt(w, BASE), W), E(pfnAt(w, BASE + PAGE), W), SPECIAL, MARK]);
  });

  it('fault: -EFAULT, SPECIAL overwritten with NONE from the failing page on', () => {
    const w = specialWorld();
    const { range } = mirrorAndRange(w, BASE, 4, { defaultFlags: V });
    expect(fault(w, range)).toBe(-EFAULT);
    expect(out(range)).toEqual([E(pfnAt(w, BASE), W), E(pfnAt(w, BASE + PAGE), W), NONE, NONE]);
  });

  it('the zero page (v5.5 fix): a normal read-only entry; reads succeed; a write request COWs it', () => {
    const w = world();
    mapAt(w, BASE, 2);
    w.p.read(BASE, 2 * PAGE);
    expect(w.p.pte(BASE).special).toBe(true);
    expect(pfnAt(w, BASE)).toBe(ZERO_PFN);
    const { range } = mirrorAndRange(w, BASE, 2, { pfnFlagsMask: V | W });
    expect(snapshot(w, range)).toBe(2);
    expect(out(range)).toEqual([E(ZERO_PFN), E(ZERO_PFN)]);

    range.pfns.set([V, V]);
    expect(fault(w, range)).toBe(2);
    expect(out(range)).toEqual([E(ZERO_PFN), E(ZERO_PFN)]);

    range.pfns.set([V, V | W]);
    expect(fault(w, range)).toBe(2);
    const cow = pfnAt(w, BASE + PAGE);
    expect(cow).not.toBe(ZERO_PFN);
    expect(out(range)).toEqual([E(ZERO_PFN), E(cow, W)]);
  });
});

describe('§2.8 devmap PTE (ZONE_DEVICE memory the CPU maps)', () => {
  it('with its pgmap: E(pfn) | W', () => {
    const w = world();
    mapAt(w, BASE, 2);
    const pub = w.sim.kernel.mem.store.addDeviceRegion(4, {
      type: MEMORY_DEVICE_PUBLIC,
      pfnFirst: 0,
      pfnLast: 0,
      pageFree() {},
      *fault() {
        yield 'never';
        return 0;
      },
    });
    w.sim.kernel.pt.set(
      slotOf(w, BASE),
      pteLoOf(pub, _PAGE_PRESENT | _PAGE_USER | _PAGE_RW),
      pteHiOf(pub) | _PAGE_DEVMAP_HI,
    );
    const { range } = mirrorAndRange(w, BASE, 2);
    expect(snapshot(w, range)).toBe(2);
    expect(out(range)).toEqual([E(pub, W), NONE]);
  });

  it('whose pgmap is gone: the walk stops with -EBUSY (snapshot ignores it)', () => {
    const w = world();
    mapAt(w, BASE, 2);
    const ram = w.sim.kernel.mem.allocPage();
    w.sim.kernel.pt.set(
      slotOf(w, BASE),
      pteLoOf(ram, _PAGE_PRESENT | _PAGE_USER),
      pteHiOf(ram) | _PAGE_DEVMAP_HI,
    );
    const { range } = mirrorAndRange(w, BASE, 2);
    range.pfns.fill(MARK);
    expect(snapshot(w, range)).toBe(0);
    expect(out(range)).toEqual([NONE, MARK]);
  });
});

describe('§2.8 swap entry (page swapped out)', () => {
  it('snapshot: NONE, and the walk goes on', () => {
    const w = world();
    mapAt(w, BASE, 3);
    touch(w, BASE, [0, 2]);
    setSwapEntry(w, BASE + PAGE);
    const { range } = mirrorAndRange(w, BASE, 3);
    expect(snapshot(w, range)).toBe(3);
    expect(out(range)).toEqual([E(pfnAt(w, BASE), W), NONE, E(pfnAt(w, BASE + 2 * PAGE), W)]);
  });

  it('fault not requested there: NONE, success', () => {
    const w = world();
    mapAt(w, BASE, 3);
    touch(w, BASE, [0, 2]);
    setSwapEntry(w, BASE + PAGE);
    const { range } = mirrorAndRange(w, BASE, 3, { pfnFlagsMask: V });
    range.pfns.set([V, 0, V]);
    expect(fault(w, range)).toBe(3);
    expect(range.pfns[1]).toBe(NONE);
  });

  it('fault requested (v5.4 fix): faulted; this mm cannot swap in, so -EFAULT', () => {
    const w = world();
    mapAt(w, BASE, 3);
    touch(w, BASE, [0, 2]);
    setSwapEntry(w, BASE + PAGE);
    const { range } = mirrorAndRange(w, BASE, 3, { defaultFlags: V });
    expect(fault(w, range)).toBe(-EFAULT);
    expect(out(range)).toEqual([E(pfnAt(w, BASE), W), NONE, NONE]);
  });
});

describe('§2.8 device-private entry', () => {
  it('snapshot: E(device pfn) | DP | W? for any device (no owner)', () => {
    const w = world();
    mapAt(w, BASE, 3);
    const a = stubDevice(w);
    const b = stubDevice(w);
    setDevicePrivate(w, BASE, a.first, true);
    setDevicePrivate(w, BASE + PAGE, b.first + 3, false);
    const { range } = mirrorAndRange(w, BASE, 3);
    expect(snapshot(w, range)).toBe(3);
    expect(out(range)).toEqual([E(a.first, DP | W), E(b.first + 3, DP), NONE]);
  });

  it('fault without DP in the request: reported, not faulted — even a write request on a read-only entry', () => {
    const w = world();
    mapAt(w, BASE, 2);
    const dev = stubDevice(w);
    setDevicePrivate(w, BASE, dev.first, false);
    setDevicePrivate(w, BASE + PAGE, dev.first + 1, true);
    const { range } = mirrorAndRange(w, BASE, 2, { defaultFlags: V | W });
    expect(fault(w, range)).toBe(2);
    expect(out(range)).toEqual([E(dev.first, DP), E(dev.first + 1, DP | W)]);
    expect(dev.faults).toEqual([]);
  });

  it('fault with DP requested: migrated back (the pgmap fault), then the RAM page is reported', () => {
    const w = world();
    mapAt(w, BASE, 2);
    const dev = stubDevice(w);
    setDevicePrivate(w, BASE, dev.first, false);
    setDevicePrivate(w, BASE + PAGE, dev.first + 1, true);
    const { range } = mirrorAndRange(w, BASE, 2, { pfnFlagsMask: V | W | DP });
    range.pfns.set([V | DP | W, 0]);
    expect(fault(w, range)).toBe(2);
    // Page 0 faulted for write; the fault covers the rest of the PMD chunk with the same decision,
    // so the device page at page 1 is migrated back too.
    expect(dev.faults.map((f) => [f.address, (f.flags & FAULT_FLAG_WRITE) !== 0])).toEqual([
      [BASE, true],
      [BASE + PAGE, true],
    ]);
    expect(dev.freed).toEqual([dev.first, dev.first + 1]);
    expect(out(range)).toEqual([E(pfnAt(w, BASE), W), E(pfnAt(w, BASE + PAGE), W)]);
    expect(w.p.pte(BASE).kind).toBe('present');
  });
});

describe('§2.8 migration entry (PTE level)', () => {
  it('snapshot and unrequested fault: NONE', () => {
    const w = world();
    mapAt(w, BASE, 2);
    touch(w, BASE, [0, 1]);
    startMigration(w, BASE);
    const { range } = mirrorAndRange(w, BASE, 2, { pfnFlagsMask: V });
    expect(snapshot(w, range)).toBe(2);
    expect(range.pfns[0]).toBe(NONE);
    range.pfns.set([0, V]);
    expect(fault(w, range)).toBe(2);
    expect(range.pfns[0]).toBe(NONE);
    expect(range.pfns[1]).toBe(E(pfnAt(w, BASE + PAGE), W));
  });

  it('fault requested (v5.7 fix): waits for the migration to finish, then rewalks', () => {
    const w = world();
    mapAt(w, BASE, 2);
    touch(w, BASE, [0, 1]);
    const { range } = mirrorAndRange(w, BASE, 2, { defaultFlags: V });
    const pfn = startMigration(w, BASE);
    const trace: string[] = [];
    const ex = w.sim.executor();
    ex.spawn(
      'driver',
      withMmapRead(w.mm, function* () {
        const r = yield* hmmRangeFault(range, true);
        trace.push(`fault returned ${r}`);
        return r;
      }),
    );
    ex.spawn(
      'migrate',
      (function* () {
        yield 'migrate: copy';
        yield 'migrate: copy';
        trace.push(`driver waits: ${w.sim.kernel.counters.get('hmm_migration_wait')}`);
        finishMigration(w, BASE, pfn, true);
        trace.push('migration done');
      })(),
    );
    const res = ex.run();
    expect(res.status).toBe('done');
    expect(trace).toEqual(['driver waits: 1', 'migration done', 'fault returned 2']);
    expect(out(range)).toEqual([E(pfn, W), E(pfnAt(w, BASE + PAGE), W)]);
  });
});

describe('§2.8 hwpoison and other non-present entries', () => {
  it('snapshot: ERROR, the walk stops (ignored): later entries keep their input', () => {
    const w = world();
    mapAt(w, BASE, 3);
    touch(w, BASE, [0, 2]);
    setHwpoison(w, BASE + PAGE);
    const { range } = mirrorAndRange(w, BASE, 3);
    range.pfns.fill(MARK);
    expect(snapshot(w, range)).toBe(1);
    expect(out(range)).toEqual([E(pfnAt(w, BASE), W), ERROR, MARK]);
  });

  it('fault: -EFAULT even unrequested, and the ERROR is overwritten with NONE', () => {
    const w = world();
    mapAt(w, BASE, 3);
    touch(w, BASE, [0, 2]);
    setHwpoison(w, BASE + PAGE);
    const { range } = mirrorAndRange(w, BASE, 3);
    expect(fault(w, range)).toBe(-EFAULT);
    expect(out(range)).toEqual([E(pfnAt(w, BASE), W), NONE, NONE]);
  });
});

describe('§2.5 range invalid at a VMA boundary', () => {
  it('-EBUSY before anything is written', () => {
    const w = world();
    mapAt(w, BASE, 2);
    const { range } = mirrorAndRange(w, BASE, 2);
    range.valid = false;
    range.pfns.fill(MARK);
    expect(snapshot(w, range)).toBe(-EBUSY);
    expect(fault(w, range)).toBe(-EBUSY);
    expect(out(range)).toEqual([MARK, MARK]);
  });
});
