/**
 * MADV_FREE and the lazyfree reclaim: clean pages go at the next reclaim (read back as zeros), a
 * write cancels, a pin keeps the page, file and shared mappings are -EINVAL, device-private entries
 * are left alone, and memory pressure in a fault reclaims before failing.
 */

import { describe, expect, it } from 'vitest';
import { checkAccounting } from '../../src/check/accounting.js';
import { HmmError } from '../../src/core/errno.js';
import { MADV_FREE } from '../../src/mm/madvise.js';
import { MM_SWAPENTS } from '../../src/mm/mm.js';
import { MAP_PRIVATE, MAP_SHARED } from '../../src/mm/mmap.js';
import { SWP_HWPOISON, SWP_SWAPFILE, swpEntryLo } from '../../src/mm/pte.js';
import type { Process } from '../../src/sim/process.js';
import { Simulator } from '../../src/sim/simulator.js';
import { ANON, fill, newSim, PG, RW, record, SHARED_ANON, starts, thrown } from './helpers.js';

function written(p: Process, n: number): { a: number; pfns: number[] } {
  const a = p.mmap(n * PG, RW, ANON);
  for (let i = 0; i < n; i++) p.write(a + i * PG, fill(PG, i + 1));
  return { a, pfns: Array.from({ length: n }, (_, i) => p.pte(a + i * PG).pfn) };
}

describe('MADV_FREE', () => {
  it('cleans the PTEs and marks the pages lazyfree; nothing is freed until reclaim', () => {
    const sim = newSim();
    const p = sim.createProcess();
    const { a, pfns } = written(p, 4);
    const free = sim.stats().freePages;
    const { log } = record(p);
    p.madvise(a, 4 * PG, MADV_FREE);
    expect(starts(log)).toEqual([['CLEAR', a, a + 4 * PG]]);
    expect(p.pte(a)).toMatchObject({ kind: 'present', pfn: pfns[0], write: true, dirty: false });
    expect(sim.page(pfns[0]!)).toMatchObject({ refcount: 1, mapcount: 1, flags: ['anon'] });
    expect(p.rss().anon).toBe(4);
    expect(sim.stats().freePages).toBe(free);
    expect(p.read(a + 2 * PG, 1)[0]).toBe(3);
    expect(checkAccounting(sim.kernel)).toEqual([]);
  });

  it('reclaim drops the clean pages: unmapped, freed, uncharged, reading zeros', () => {
    const sim = newSim();
    const p = sim.createProcess();
    const { a, pfns } = written(p, 4);
    const free = sim.stats().freePages;
    p.madvise(a, 4 * PG, MADV_FREE);
    const { log } = record(p);
    expect(sim.reclaim()).toBe(4);
    expect(starts(log)).toEqual(pfns.map((_, i) => ['CLEAR', a + i * PG, a + (i + 1) * PG]));
    expect(p.pte(a).kind).toBe('none');
    expect(p.rss().anon).toBe(0);
    expect(sim.stats().freePages).toBe(free + 4);
    expect(sim.kernel.mem.memcgs.root.usagePages).toBe(0);
    expect(sim.page(pfns[0]!).flags).toEqual(['buddy']);
    expect([...p.read(a, 2)]).toEqual([0, 0]);
    expect(sim.reclaim()).toBe(0);
    expect(sim.stats().counters.pglazyfreed).toBe(4);
    expect(checkAccounting(sim.kernel)).toEqual([]);
  });

  it('a write cancels it: the dirtied page is kept (swap-backed again), the others go', () => {
    const sim = newSim();
    const p = sim.createProcess();
    const { a, pfns } = written(p, 3);
    p.madvise(a, 3 * PG, MADV_FREE);
    p.write(a + PG + 10, fill(1, 99));
    expect(p.pte(a + PG).dirty).toBe(true);
    expect(sim.reclaim()).toBe(2);
    expect(p.pte(a + PG)).toMatchObject({ kind: 'present', pfn: pfns[1] });
    expect(sim.page(pfns[1]!)).toMatchObject({ refcount: 1, mapcount: 1 });
    expect(sim.page(pfns[1]!).flags).toEqual(['dirty', 'anon', 'swapbacked']);
    expect([...p.read(a + PG + 9, 2)]).toEqual([2, 99]);
    expect(p.read(a, 1)[0]).toBe(0);
    expect(p.rss().anon).toBe(1);
    expect(sim.reclaim()).toBe(0);
    expect(checkAccounting(sim.kernel)).toEqual([]);
  });

  it('v6.19 keeps a pinned page at reclaim (its extra reference)', () => {
    const sim = newSim({ kernel: 'v6.19' });
    const p = sim.createProcess();
    const { a, pfns } = written(p, 2);
    const pin = p.pin(a, 1);
    p.madvise(a, 2 * PG, MADV_FREE);
    expect(sim.reclaim()).toBe(1);
    expect(p.pte(a).pfn).toBe(pfns[0]);
    expect(sim.page(pfns[0]!).flags).toEqual(['anon', 'swapbacked']);
    expect(p.read(a, 1)[0]).toBe(1);
    expect(p.pte(a + PG).kind).toBe('none');
    pin.unpin();
    expect(checkAccounting(sim.kernel)).toEqual([]);
  });

  it('v5.3 unmaps a pinned clean page anyway: the process reads zeros, the pin keeps an orphan', () => {
    const sim = newSim({ kernel: 'v5.3' });
    const p = sim.createProcess();
    const { a, pfns } = written(p, 2);
    const pin = p.pin(a, 1);
    p.madvise(a, 2 * PG, MADV_FREE);
    expect(sim.reclaim()).toBe(1);
    expect(p.pte(a).kind).toBe('none');
    expect(sim.page(pfns[0]!)).toMatchObject({ refcount: 1, mapcount: 0 });
    expect(p.rss().anon).toBe(0);
    expect(p.read(a, 1)[0]).toBe(0);
    expect(checkAccounting(sim.kernel, new Map([[pfns[0]!, 1]]))).toEqual([]);
    const free = sim.stats().freePages;
    pin.unpin();
    expect(sim.stats().freePages).toBe(free + 1);
    expect(checkAccounting(sim.kernel)).toEqual([]);
  });

  it('a page shared with a fork child is kept while the child still maps it dirty', () => {
    const sim = newSim();
    const p = sim.createProcess();
    const { a, pfns } = written(p, 1);
    const child = p.fork();
    p.madvise(a, PG, MADV_FREE);
    expect(sim.reclaim()).toBe(0);
    expect(child.pte(a).pfn).toBe(pfns[0]);
    expect(child.read(a, 1)[0]).toBe(1);
    expect(checkAccounting(sim.kernel)).toEqual([]);
  });

  it('is EINVAL on file and shared mappings; zero-page and never-touched pages are skipped', () => {
    const sim = newSim();
    const p = sim.createProcess();
    const f = sim.createFile(2 * PG);
    const file = p.mmap(2 * PG, RW, MAP_PRIVATE, f);
    expect(thrown(HmmError, () => p.madvise(file, PG, MADV_FREE)).code).toBe('EINVAL');
    const shared = p.mmap(PG, RW, MAP_SHARED, f);
    expect(thrown(HmmError, () => p.madvise(shared, PG, MADV_FREE)).code).toBe('EINVAL');
    const shm = p.mmap(PG, RW, SHARED_ANON);
    expect(thrown(HmmError, () => p.madvise(shm, PG, MADV_FREE)).code).toBe('EINVAL');
    const anon = p.mmap(2 * PG, RW, ANON);
    p.read(anon, 1);
    p.madvise(anon, 2 * PG, MADV_FREE);
    expect(p.pte(anon)).toMatchObject({ kind: 'present', pfn: 0, special: true });
    expect(sim.kernel.lazyfree.size).toBe(0);
    expect(checkAccounting(sim.kernel)).toEqual([]);
  });

  it('leaves device-private entries alone (madvise_free_pte_range skips non-swap entries)', () => {
    const sim = new Simulator({ ramPages: 256, devices: [{ memoryPages: 16 }] });
    const p = sim.createProcess();
    const { a } = written(p, 2);
    const fd = sim.openDevice(0, p);
    expect(fd.migrate(a, 1).cpages).toBe(1);
    const dev = p.pte(a).pfn;
    p.madvise(a, 2 * PG, MADV_FREE);
    expect(p.pte(a)).toMatchObject({ kind: 'device-private', pfn: dev, write: true });
    expect(sim.reclaim()).toBe(1);
    expect(p.pte(a).kind).toBe('device-private');
    expect(p.read(a, 1)[0]).toBe(1);
    expect(checkAccounting(sim.kernel)).toEqual([]);
    fd.close();
  });
});

describe('memory pressure reclaims lazyfree pages before a fault fails', () => {
  it('when RAM runs out', () => {
    const sim = newSim({ ramPages: 8 });
    const p = sim.createProcess();
    const { a } = written(p, 8);
    expect(sim.stats().freePages).toBe(0);
    const b = p.mmap(2 * PG, RW, ANON);
    expect(thrown(HmmError, () => p.write(b, fill(1, 1))).code).toBe('ENOMEM');
    p.madvise(a, 8 * PG, MADV_FREE);
    p.write(b, fill(2 * PG, 7));
    expect(sim.stats().counters.pglazyfreed).toBe(8);
    expect(p.rss().anon).toBe(2);
    expect(p.read(a, 1)[0]).toBe(0);
    expect(checkAccounting(sim.kernel)).toEqual([]);
  });

  it('when the memcg is at its limit: only its own pages are reclaimed', () => {
    const sim = newSim();
    const cg = sim.createMemcg('small', 4);
    const p = sim.createProcess({ memcg: cg });
    const other = sim.createProcess();
    const { a } = written(p, 4);
    const o = written(other, 2);
    other.madvise(o.a, 2 * PG, MADV_FREE);
    p.madvise(a, 2 * PG, MADV_FREE);
    const b = p.mmap(PG, RW, ANON);
    p.write(b, fill(1, 1));
    expect(cg.usagePages).toBe(3);
    expect(p.pte(a).kind).toBe('none');
    expect(other.pte(o.a).kind).toBe('present');
    expect(checkAccounting(sim.kernel)).toEqual([]);
  });
});

describe('MADV_FREE on swap-type entries', () => {
  it.each(['v5.3', 'v6.19'] as const)(
    '%s: a swap entry is freed; a hwpoison entry is cleared only since v6.0',
    (kernel) => {
      const sim = newSim({ kernel });
      const p = sim.createProcess();
      const a = p.mmap(2 * PG, RW, ANON);
      p.read(a, 1);
      p.read(a + PG, 1);
      const { pt } = sim.kernel;
      pt.set(pt.pteSlot(p.mm.pgd, a), swpEntryLo(SWP_SWAPFILE, 5), 0);
      p.mm.rss[MM_SWAPENTS] = 1;
      pt.set(pt.pteSlot(p.mm.pgd, a + PG), swpEntryLo(SWP_HWPOISON, 0), 0);
      p.madvise(a, 2 * PG, MADV_FREE);
      expect(p.pte(a).kind).toBe('none');
      expect(p.rss().swapents).toBe(0);
      expect(p.pte(a + PG).kind).toBe(kernel === 'v6.19' ? 'none' : 'hwpoison');
      expect(checkAccounting(sim.kernel)).toEqual([]);
    },
  );
});
