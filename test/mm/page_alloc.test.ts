import { describe, expect, it } from 'vitest';
import { KernelBug } from '../../src/core/assert.js';
import { ArgumentError } from '../../src/core/errno.js';
import {
  PAGES_PER_SECTION,
  PG_buddy,
  PG_locked,
  PG_reserved,
  RAM_PAGES_MAX,
  ZERO_PFN,
} from '../../src/mm/page.js';
import { PhysMem } from '../../src/mm/page_alloc.js';
import { Executor, schedule } from '../../src/sched/index.js';
import { Simulator } from '../../src/sim/simulator.js';
import { roundRobin, thrown } from './helpers.js';

describe('mm/page_alloc: the allocator', () => {
  it('starts with every RAM page free and the zero page reserved', () => {
    const mem = new PhysMem({ ramPages: 8 });
    expect(mem.freePages).toBe(8);
    expect(mem.store.size).toBe(PAGES_PER_SECTION);
    expect(mem.store.flags[ZERO_PFN]).toBe(PG_reserved);
    expect(mem.store.refcount[ZERO_PFN]).toBe(1);
    for (let pfn = 1; pfn <= 8; pfn++) expect(mem.store.flags[pfn]).toBe(PG_buddy);
    expect(mem.store.flags[9]).toBe(PG_reserved);
    expect(mem.isRam(0)).toBe(false);
    expect(mem.isRam(1)).toBe(true);
    expect(mem.isRam(8)).toBe(true);
    expect(mem.isRam(9)).toBe(false);
  });

  it('allocPage hands out pfn 1 first, at refcount 1, and -1 once RAM is exhausted', () => {
    const mem = new PhysMem({ ramPages: 3 });
    expect([mem.allocPage(), mem.allocPage(), mem.allocPage()]).toEqual([1, 2, 3]);
    expect(mem.store.refcount[1]).toBe(1);
    expect(mem.store.flags[1]).toBe(0);
    expect(mem.freePages).toBe(0);
    expect(mem.allocPage()).toBe(-1);
    expect(mem.allocCount).toBe(3);
  });

  it('put_page of the last reference frees the page (LIFO reuse); get_page adds one', () => {
    const mem = new PhysMem({ ramPages: 4 });
    const pfn = mem.allocPage();
    mem.getPage(pfn);
    expect(mem.store.refcount[pfn]).toBe(2);
    mem.putPage(pfn);
    expect(mem.freePages).toBe(3);
    mem.putPage(pfn);
    expect(mem.freePages).toBe(4);
    expect(mem.store.flags[pfn]).toBe(PG_buddy);
    expect(mem.freeCount).toBe(1);
    expect(mem.allocPage()).toBe(pfn);
  });

  it('freeing a mapped, locked or referenced page is "Bad page state"', () => {
    const mem = new PhysMem({ ramPages: 4 });
    const a = mem.allocPage();
    expect(thrown(KernelBug, () => mem.freePage(a)).message).toBe(
      `BUG: Bad page state: pfn ${a} refcount 1 mapcount 0`,
    );
    mem.store.refcount[a] = 0;
    mem.store.mapcount[a] = 1;
    expect(thrown(KernelBug, () => mem.freePage(a)).message).toBe(
      `BUG: Bad page state: pfn ${a} refcount 0 mapcount 1`,
    );
    mem.store.mapcount[a] = 0;
    mem.store.flags[a] = PG_locked;
    expect(thrown(KernelBug, () => mem.freePage(a)).message).toBe(
      `BUG: Bad page state: pfn ${a} refcount 0 mapcount 0 locked`,
    );
    expect(thrown(KernelBug, () => mem.freePage(3)).message).toMatch(/not an allocated RAM page/);
    expect(thrown(KernelBug, () => mem.freePage(0)).message).toMatch(/not an allocated RAM page/);
  });

  it('refcount underflow, get_page on a free page and dropping the zero page are BUGs', () => {
    const mem = new PhysMem({ ramPages: 4 });
    expect(thrown(KernelBug, () => mem.getPage(2)).message).toBe('VM_BUG_ON_PAGE: get_page on free pfn 2');
    expect(thrown(KernelBug, () => mem.putPage(2)).message).toBe(
      'VM_BUG_ON_PAGE: page refcount underflow on pfn 2',
    );
    expect(thrown(KernelBug, () => mem.putPage(ZERO_PFN)).message).toBe(
      'VM_BUG_ON_PAGE: last reference to the zero page dropped',
    );
  });

  it('rejects a RAM size outside 1..2^26 with ArgumentError ramPages', () => {
    for (const bad of [0, -1, 1.5, 2 ** 26 + 1]) {
      expect(thrown(ArgumentError, () => new PhysMem({ ramPages: bad })).argument).toBe('ramPages');
    }
  });

  it('checks RAM_PAGES_MAX in one place: PhysMem and the Simulator give the same message', () => {
    expect(RAM_PAGES_MAX).toBe(2 ** 26);
    const cases: [unknown, string][] = [
      [2 ** 26 + 1, '67108865'],
      [0, '0'],
      [1.5, '1.5'],
      [Number.NaN, 'NaN'],
      ['64', "'64' (a string)"],
      [null, 'null'],
    ];
    for (const [bad, shown] of cases) {
      const want = `invalid argument 'ramPages': expected an integer in 1..67108864 (2^26 pages: 256 GiB), got ${shown}`;
      expect(thrown(ArgumentError, () => new PhysMem({ ramPages: bad as number })).message).toBe(want);
      expect(thrown(ArgumentError, () => new Simulator({ ramPages: bad as number })).message).toBe(want);
    }
    expect(new PhysMem({ ramPages: 1 }).ramPages).toBe(1);
  });
});

describe('mm/page_alloc: memcg charges', () => {
  it('charge records the memcg; free uncharges; migrateCharge moves the charge', () => {
    const mem = new PhysMem({ ramPages: 4 });
    const cg = mem.memcgs.create('cg', 2);
    const a = mem.allocPage();
    const b = mem.allocPage();
    expect(mem.charge(a, cg.id)).toBe(true);
    expect(mem.store.memcg[a]).toBe(cg.id);
    expect(cg.usagePages).toBe(1);
    mem.migrateCharge(a, b);
    expect(mem.store.memcg[a]).toBe(0);
    expect(mem.store.memcg[b]).toBe(cg.id);
    expect(cg.usagePages).toBe(1);
    mem.putPage(a);
    expect(cg.usagePages).toBe(1);
    mem.putPage(b);
    expect(cg.usagePages).toBe(0);
    expect(() => mem.charge(mem.allocPage(), 99)).toThrow(KernelBug);
  });
});

describe('mm/page_alloc: lock_page', () => {
  it('trylock fails on a locked page; unlock of an unlocked page is a BUG', () => {
    const mem = new PhysMem({ ramPages: 2 });
    const pfn = mem.allocPage();
    expect(mem.trylockPage(pfn)).toBe(true);
    expect(mem.store.isLocked(pfn)).toBe(true);
    expect(mem.trylockPage(pfn)).toBe(false);
    mem.unlockPage(pfn);
    expect(mem.store.isLocked(pfn)).toBe(false);
    expect(thrown(KernelBug, () => mem.unlockPage(pfn)).message).toBe(
      `VM_BUG_ON_PAGE: unlock_page of unlocked pfn ${pfn}`,
    );
  });

  it('lock_page sleeps until the holder unlocks; wait_on_page_locked wakes too', () => {
    const mem = new PhysMem({ ramPages: 2 });
    const pfn = mem.allocPage();
    const trace: string[] = [];
    const ex = new Executor({ strategy: roundRobin });
    ex.spawn(
      'holder',
      (function* () {
        expect(mem.trylockPage(pfn)).toBe(true);
        trace.push('holder locked');
        yield* schedule('hold');
        yield* schedule('hold');
        trace.push('holder unlocks');
        mem.unlockPage(pfn);
      })(),
    );
    ex.spawn(
      'waiter',
      (function* () {
        yield* mem.lockPage(pfn);
        trace.push('waiter locked');
        expect(mem.store.isLocked(pfn)).toBe(true);
        mem.unlockPage(pfn);
      })(),
    );
    ex.spawn(
      'watcher',
      (function* () {
        yield* mem.waitOnPageLocked(pfn);
        trace.push('watcher saw it unlocked');
      })(),
    );
    expect(ex.run().status).toBe('done');
    expect(trace[0]).toBe('holder locked');
    expect(trace.indexOf('holder unlocks')).toBeLessThan(trace.indexOf('waiter locked'));
    expect(trace).toContain('watcher saw it unlocked');
    expect(mem.store.isLocked(pfn)).toBe(false);
  });
});

describe('mm/page_alloc: page contents', () => {
  it('a never-written page reads as zeros and holds no bytes', () => {
    const mem = new PhysMem({ ramPages: 2 });
    const pfn = mem.allocPage();
    const out = new Uint8Array(8).fill(9);
    mem.readBytes(pfn, 100, out, 2, 4);
    expect([...out]).toEqual([9, 9, 0, 0, 0, 0, 9, 9]);
    expect(mem.store.contents[pfn]).toBeUndefined();
  });

  it('writeBytes/readBytes round-trip; copyPage copies; clearPage and free drop the bytes', () => {
    const mem = new PhysMem({ ramPages: 3 });
    const a = mem.allocPage();
    const b = mem.allocPage();
    mem.writeBytes(a, 4090, Uint8Array.from([1, 2, 3, 4, 5, 6]), 1, 5);
    const out = new Uint8Array(6);
    mem.readBytes(a, 4090, out, 0, 6);
    expect([...out]).toEqual([2, 3, 4, 5, 6, 0]);
    mem.copyPage(b, a);
    mem.readBytes(b, 4090, out, 0, 6);
    expect([...out]).toEqual([2, 3, 4, 5, 6, 0]);
    mem.writeBytes(b, 4090, Uint8Array.from([7]), 0, 1);
    mem.readBytes(a, 4090, out, 0, 1);
    expect(out[0]).toBe(2); // a copy, not shared
    mem.clearPage(b);
    expect(mem.store.contents[b]).toBeUndefined();
    mem.putPage(a);
    expect(mem.store.contents[a]).toBeUndefined();
  });

  it('writing the zero page is a BUG', () => {
    const mem = new PhysMem({ ramPages: 2 });
    expect(thrown(KernelBug, () => mem.writeBytes(ZERO_PFN, 0, Uint8Array.from([1]), 0, 1)).message).toBe(
      'BUG: write to the shared zero page',
    );
  });

  it('without contents every page reads as zeros', () => {
    const mem = new PhysMem({ ramPages: 2, contents: false });
    const pfn = mem.allocPage();
    mem.writeBytes(pfn, 0, Uint8Array.from([1, 2]), 0, 2);
    const out = new Uint8Array(2).fill(9);
    mem.readBytes(pfn, 0, out, 0, 2);
    expect([...out]).toEqual([0, 0]);
  });

  it("without contents a device store's page bytes are one shared scratch page: nothing kept, reads stay zero", () => {
    const mem = new PhysMem({ ramPages: 4, contents: false });
    const a = mem.allocPage();
    const b = mem.allocPage();
    const bytes = mem.pageBytes(a);
    bytes[5] = 7;
    expect(mem.pageBytes(b)).toBe(bytes);
    expect(mem.store.contents[a]).toBeUndefined();
    const out = new Uint8Array(1).fill(9);
    mem.readBytes(a, 5, out, 0, 1);
    expect(out[0]).toBe(0);
  });

  it('with contents each page gets its own bytes on first write, kept', () => {
    const mem = new PhysMem({ ramPages: 4 });
    const a = mem.allocPage();
    const b = mem.allocPage();
    mem.pageBytes(a)[5] = 7;
    expect(mem.pageBytes(b)).not.toBe(mem.pageBytes(a));
    const out = new Uint8Array(1);
    mem.readBytes(a, 5, out, 0, 1);
    expect(out[0]).toBe(7);
  });
});
