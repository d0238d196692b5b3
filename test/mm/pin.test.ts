/**
 * pin_user_pages (FOLL_PIN) under both kernel settings: the refcount bias, the zero page, unpin,
 * the WARN cases, fork copying a pinned page (v6.19) or sharing it (v5.3), COW never reusing a
 * page with extra references (v6.19) and a read pin unsharing a COW-shared page first.
 */

import { describe, expect, it } from 'vitest';
import { checkAccounting } from '../../src/check/accounting.js';
import { KernelWarning } from '../../src/core/assert.js';
import { ArgumentError, HmmError } from '../../src/core/errno.js';
import type { KernelVersion } from '../../src/index.js';
import { FOLL_GET, FOLL_LONGTERM, FOLL_PIN, getUserPages, pinUserPages } from '../../src/mm/gup.js';
import { kernelBehaviour } from '../../src/mm/kernel.js';
import { GUP_PIN_COUNTING_BIAS, pageMaybeDmaPinned, ZERO_PFN } from '../../src/mm/page.js';
import { Simulator } from '../../src/sim/simulator.js';
import { ANON, fill, locked, newSim, PG, RO, RW, thrown } from './helpers.js';

function pinRefs(kernel: KernelVersion): number {
  return kernel === 'v6.19' ? GUP_PIN_COUNTING_BIAS : 1;
}

describe('the kernel option', () => {
  it('defaults to v5.3, accepts v6.19 and names `kernel` when wrong', () => {
    expect(newSim().kernelVersion).toBe('v5.3');
    expect(newSim({ kernel: 'v6.19' }).kernel.behaviour.forkCopiesPinned).toBe(true);
    const e = thrown(ArgumentError, () => newSim({ kernel: 'v6.1' as KernelVersion }));
    expect(e.message).toContain('kernel');
    expect(kernelBehaviour('v5.3').pinCounting).toBe(false);
  });
});

describe.each(['v5.3', 'v6.19'] as const)('pin_user_pages under %s', (kernel) => {
  const bias = pinRefs(kernel);

  it('adds the pin to the refcount, counts as maybe-pinned only with the bias, and unpins exactly', () => {
    const sim = newSim({ kernel });
    const p = sim.createProcess();
    const a = p.mmap(2 * PG, RW, ANON);
    p.write(a, fill(PG, 7));
    const pfn = p.pte(a).pfn;
    const pin = p.pin(a, 1);
    expect(pin.pages).toBe(1);
    expect(pin.pfns).toEqual([pfn]);
    expect(sim.page(pfn)).toMatchObject({ refcount: 1 + bias, mapcount: 1 });
    expect(pageMaybeDmaPinned(sim.kernel.mem.store, pfn)).toBe(kernel === 'v6.19');
    expect(p.rss().anon).toBe(1);
    expect(checkAccounting(sim.kernel, new Map([[pfn, bias]]))).toEqual([]);
    pin.unpin();
    expect(sim.page(pfn)).toMatchObject({ refcount: 1, mapcount: 1 });
    expect(thrown(KernelWarning, () => pin.unpin()).message).toContain('already unpinned');
    expect(checkAccounting(sim.kernel)).toEqual([]);
  });

  it('a write pin faults the pages in; unpin after munmap frees them', () => {
    const sim = newSim({ kernel });
    const p = sim.createProcess();
    const a = p.mmap(3 * PG, RW, ANON);
    const free = sim.stats().freePages;
    const pin = p.pin(a, 3, { write: true, longterm: true });
    expect(pin.pages).toBe(3);
    expect(sim.stats().freePages).toBe(free - 3);
    expect(pin.pfns.map((f) => sim.page(f).refcount)).toEqual([1 + bias, 1 + bias, 1 + bias]);
    p.munmap(a, 3 * PG);
    expect(pin.pfns.map((f) => sim.page(f))).toMatchObject([
      { refcount: bias, mapcount: 0 },
      { refcount: bias, mapcount: 0 },
      { refcount: bias, mapcount: 0 },
    ]);
    expect(sim.kernel.mem.memcgs.root.usagePages).toBe(3);
    pin.unpin();
    expect(sim.stats().freePages).toBe(free);
    expect(sim.kernel.mem.memcgs.root.usagePages).toBe(0);
  });

  it('pins the zero page for a read of an untouched page (v6.19 takes no reference on it)', () => {
    const sim = newSim({ kernel });
    const p = sim.createProcess();
    const a = p.mmap(PG, RW, ANON);
    const pin = p.pin(a, 1);
    expect(pin.pfns).toEqual([ZERO_PFN]);
    expect(sim.page(ZERO_PFN).refcount).toBe(kernel === 'v6.19' ? 1 : 2);
    pin.unpin();
    expect(sim.page(ZERO_PFN).refcount).toBe(1);
  });

  it('stops at a hole, fails with EFAULT on an unmapped or forbidden first page, checks its arguments', () => {
    const sim = newSim({ kernel });
    const p = sim.createProcess();
    const a = p.mmap(PG, RW, ANON);
    const pin = p.pin(a, 4);
    expect(pin.pages).toBe(1);
    pin.unpin();
    expect(thrown(HmmError, () => p.pin(a + 8 * PG, 1)).code).toBe('EFAULT');
    const ro = p.mmap(PG, RO, ANON);
    expect(thrown(HmmError, () => p.pin(ro, 1, { write: true })).code).toBe('EFAULT');
    expect(thrown(ArgumentError, () => p.pin(a, 0)).message).toContain('npages');
    expect(thrown(ArgumentError, () => p.pin(a, 1.5)).message).toContain('npages');
    const bad = { write: 'yes' } as unknown as { write: boolean };
    expect(thrown(ArgumentError, () => p.pin(a, 1, bad)).message).toContain('opts.write');
    expect(checkAccounting(sim.kernel)).toEqual([]);
  });

  it('FOLL_PIN with FOLL_GET is a WARN', () => {
    const sim = newSim({ kernel });
    const p = sim.createProcess();
    const a = p.mmap(PG, RW, ANON);
    const gup = (flags: number) => () =>
      sim.run(
        'gup',
        locked(p.mm, 'read', () => getUserPages(p.mm, a, 1, flags, [])),
      );
    expect(thrown(KernelWarning, gup(FOLL_PIN | FOLL_GET)).message).toContain('mutually exclusive');
    const pin = () =>
      sim.run(
        'pin',
        locked(p.mm, 'read', () => pinUserPages(p.mm, a, 1, FOLL_GET, [])),
      );
    expect(thrown(KernelWarning, pin).message).toContain('FOLL_GET');
    // FOLL_LONGTERM without FOLL_PIN: allowed in v5.3 (get_user_pages_longterm), a WARN since v6.3.
    const pins: number[] = [];
    const longterm = () =>
      sim.run(
        'gup',
        locked(p.mm, 'read', () => getUserPages(p.mm, a, 1, FOLL_LONGTERM, pins)),
      );
    if (kernel === 'v5.3') {
      expect(longterm()).toBe(1);
      sim.kernel.mem.putPage(pins[0]!);
    } else expect(thrown(KernelWarning, longterm).message).toContain('FOLL_LONGTERM');
  });
});

describe('fork of a pinned anonymous page', () => {
  function pinnedThenFork(kernel: KernelVersion) {
    const sim = newSim({ kernel });
    const p = sim.createProcess();
    const a = p.mmap(PG, RW, ANON);
    p.write(a, fill(PG, 9));
    const pfn = p.pte(a).pfn;
    const pin = p.pin(a, 1, { write: true });
    const child = p.fork();
    return { sim, p, a, pfn, pin, child };
  }

  it('v5.3 shares it copy-on-write: the parent then writes to a copy the pin never sees', () => {
    const { sim, p, a, pfn, pin, child } = pinnedThenFork('v5.3');
    expect(child.pte(a)).toMatchObject({ pfn, write: false });
    expect(p.pte(a)).toMatchObject({ pfn, write: false });
    expect(sim.page(pfn)).toMatchObject({ refcount: 3, mapcount: 2 });
    p.write(a, fill(1, 1));
    expect(p.pte(a).pfn).not.toBe(pfn);
    expect(sim.page(pfn)).toMatchObject({ refcount: 2, mapcount: 1 });
    expect(checkAccounting(sim.kernel, new Map([[pfn, 1]]))).toEqual([]);
    pin.unpin();
  });

  it('v6.19 gives the child a copy and leaves the parent mapping the pinned page writable', () => {
    const { sim, p, a, pfn, pin, child } = pinnedThenFork('v6.19');
    const c = child.pte(a);
    expect(c).toMatchObject({ kind: 'present', write: true, dirty: true });
    expect(c.pfn).not.toBe(pfn);
    expect(p.pte(a)).toMatchObject({ pfn, write: true });
    expect(sim.page(pfn)).toMatchObject({ refcount: 1 + GUP_PIN_COUNTING_BIAS, mapcount: 1 });
    expect(sim.page(c.pfn)).toMatchObject({ refcount: 1, mapcount: 1, memcg: 'root' });
    expect(child.rss().anon).toBe(1);
    expect([...child.read(a, 2)]).toEqual([9, 9]);
    expect(sim.stats().counters.fork_cow_pinned).toBe(1);
    p.write(a, fill(1, 1));
    expect(p.pte(a).pfn).toBe(pfn);
    expect(checkAccounting(sim.kernel, new Map([[pfn, GUP_PIN_COUNTING_BIAS]]))).toEqual([]);
    pin.unpin();
    child.exit();
    expect(checkAccounting(sim.kernel)).toEqual([]);
  });

  it('v6.19 fork fails with ENOMEM, leaving nothing behind, when the copy finds no memory', () => {
    const sim = newSim({ kernel: 'v6.19', ramPages: 2 });
    const p = sim.createProcess();
    const a = p.mmap(2 * PG, RW, ANON);
    p.write(a, fill(2 * PG, 3));
    const pin = p.pin(a, 2);
    expect(thrown(HmmError, () => p.fork()).code).toBe('ENOMEM');
    expect(sim.kernel.mms.size).toBe(1);
    pin.unpin();
    expect(checkAccounting(sim.kernel)).toEqual([]);
  });
});

describe('COW of a page with extra references', () => {
  /** A page shared by fork, the child gone: mapped once, not exclusive, one extra GUP reference. */
  function gotAfterFork(kernel: KernelVersion) {
    const sim = newSim({ kernel });
    const p = sim.createProcess();
    const a = p.mmap(PG, RW, ANON);
    p.write(a, fill(PG, 4));
    const pfn = p.pte(a).pfn;
    p.fork().exit();
    const pins: number[] = [];
    sim.run(
      'gup',
      locked(p.mm, 'read', () => getUserPages(p.mm, a, 1, 0, pins)),
    );
    expect(sim.page(pfn)).toMatchObject({ refcount: 2, mapcount: 1 });
    p.write(a, fill(1, 5));
    return { sim, p, a, pfn };
  }

  it('v5.3 reuses it (mapped once), v6.19 copies it (wp_can_reuse_anon_folio)', () => {
    const old = gotAfterFork('v5.3');
    expect(old.p.pte(old.a).pfn).toBe(old.pfn);
    expect(old.sim.page(old.pfn)).toMatchObject({ refcount: 2, mapcount: 1 });
    const now = gotAfterFork('v6.19');
    expect(now.p.pte(now.a).pfn).not.toBe(now.pfn);
    expect(now.sim.page(now.pfn)).toMatchObject({ refcount: 1, mapcount: 0 });
    expect([...now.p.read(now.a, 2)]).toEqual([5, 4]);
  });

  it('v6.19: a read pin of a COW-shared page unshares it first, so the pin stays coherent', () => {
    const sim = newSim({ kernel: 'v6.19' });
    const p = sim.createProcess();
    const a = p.mmap(PG, RW, ANON);
    p.write(a, fill(PG, 6));
    const shared = p.pte(a).pfn;
    const child = p.fork();
    const pin = p.pin(a, 1);
    const mine = pin.pfns[0]!;
    expect(mine).not.toBe(shared);
    expect(p.pte(a)).toMatchObject({ pfn: mine, write: false, dirty: false });
    expect(sim.page(mine)).toMatchObject({ refcount: 1 + GUP_PIN_COUNTING_BIAS, mapcount: 1 });
    expect(sim.page(shared)).toMatchObject({ refcount: 1, mapcount: 1 });
    p.write(a, fill(1, 8));
    expect(p.pte(a).pfn).toBe(mine);
    expect([...child.read(a, 1)]).toEqual([6]);
    expect(checkAccounting(sim.kernel, new Map([[mine, GUP_PIN_COUNTING_BIAS]]))).toEqual([]);
    pin.unpin();
  });

  it('v5.3: the same read pin keeps the shared page, and the parent write leaves the pin behind', () => {
    const sim = newSim({ kernel: 'v5.3' });
    const p = sim.createProcess();
    const a = p.mmap(PG, RW, ANON);
    p.write(a, fill(PG, 6));
    const shared = p.pte(a).pfn;
    p.fork();
    const pin = p.pin(a, 1);
    expect(pin.pfns).toEqual([shared]);
    p.write(a, fill(1, 8));
    expect(p.pte(a).pfn).not.toBe(shared);
    pin.unpin();
  });
});

describe('pins of pages that came back from device memory', () => {
  it.each(['v5.3', 'v6.19'] as const)(
    '%s: a read pin faults a device-private page back and pins it',
    (kernel) => {
      const sim = new Simulator({ kernel, ramPages: 256, devices: [{ memoryPages: 16 }] });
      const p = sim.createProcess();
      const a = p.mmap(PG, RW, ANON);
      p.write(a, fill(PG, 3));
      const fd = sim.openDevice(0, p);
      expect(fd.migrate(a, 1).cpages).toBe(1);
      expect(p.pte(a).kind).toBe('device-private');
      const pin = p.pin(a, 1);
      const pfn = pin.pfns[0]!;
      expect(p.pte(a)).toMatchObject({ kind: 'present', pfn });
      expect(sim.page(pfn)).toMatchObject({ zone: 'normal', refcount: 1 + pinRefs(kernel), mapcount: 1 });
      expect(p.read(a, 1)[0]).toBe(3);
      pin.unpin();
      fd.close();
      expect(checkAccounting(sim.kernel)).toEqual([]);
    },
  );
});
