/**
 * PageStore's room for hot-plug: a store built with capacity grows into it without copying (the
 * arrays stay views of one buffer, every value in place), and beyond it by copying; a machine
 * without page contents keeps no contents array at all. The Simulator reserves its devices' memory.
 */

import { describe, expect, it } from 'vitest';
import { PageStore } from '../../src/mm/page.js';
import { Simulator } from '../../src/sim/simulator.js';

function mark(s: PageStore, pfn: number): void {
  s.flags[pfn] = 0x51;
  s.refcount[pfn] = 7;
  s.index[pfn] = 1.5;
  s.zone[pfn] = 1;
}

function expectMarked(s: PageStore, pfn: number): void {
  expect([s.flags[pfn], s.refcount[pfn], s.index[pfn], s.zone[pfn]]).toEqual([0x51, 7, 1.5, 1]);
}

describe('PageStore capacity', () => {
  it('grows within its capacity in place: same buffer, values kept, new pfns zero', () => {
    const s = new PageStore(8, 4, 16);
    mark(s, 3);
    mark(s, 7);
    const buffer = s.flags.buffer;
    s.grow(12);
    expect(s.size).toBe(12);
    expect(s.flags.length).toBe(12);
    expect(s.zone.length).toBe(12);
    expect(s.flags.buffer).toBe(buffer);
    expectMarked(s, 3);
    expectMarked(s, 7);
    expect([s.flags[11], s.refcount[11], s.index[11], s.zone[11], s.contents[11]]).toEqual([
      0,
      0,
      0,
      0,
      undefined,
    ]);
  });

  it('grows past its capacity by copying into a new buffer', () => {
    const s = new PageStore(8, 4, 12);
    mark(s, 5);
    const buffer = s.flags.buffer;
    s.grow(20);
    expect(s.flags.buffer).not.toBe(buffer);
    expect(s.memcg.length).toBe(20);
    expectMarked(s, 5);
    expect(s.flags[19]).toBe(0);
  });

  it('without contents the contents array stays empty through growth', () => {
    const s = new PageStore(8, 4, 8, false);
    s.grow(16);
    expect(s.contents.length).toBe(0);
    expect(s.contents[12]).toBeUndefined();
    const kept = new PageStore(8, 4, 8);
    kept.grow(16);
    expect(kept.contents.length).toBe(16);
  });

  it("a Simulator reserves its devices' memory: opening a device copies no struct page", () => {
    const sim = new Simulator({ ramPages: 256, sectionPages: 64, devices: [{ memoryPages: 100 }] });
    const p = sim.createProcess();
    const store = p.mm.kernel.mem.store;
    const buffer = store.flags.buffer;
    const before = store.size;
    sim.openDevice(0, p);
    expect(store.size).toBe(before + 128);
    expect(store.flags.buffer).toBe(buffer);
  });
});

describe('PageStore.release', () => {
  it("empties the store's arrays and gives its buffer, zeroed, to the next store of its size", () => {
    const s = new PageStore(8, 4, 24);
    mark(s, 5);
    const buffer = s.flags.buffer;
    s.release();
    expect([s.size, s.flags.length, s.refcount.length, s.index.length, s.zone.length]).toEqual([
      0, 0, 0, 0, 0,
    ]);
    // a released store's stray write lands nowhere
    s.refcount[5] = 9;
    expect(s.refcount[5]).toBeUndefined();
    const next = new PageStore(8, 4, 24);
    expect(next.flags.buffer).toBe(buffer);
    expect([next.flags[5], next.refcount[5], next.index[5], next.zone[5]]).toEqual([0, 0, 0, 0]);
  });
});
