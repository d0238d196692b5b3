import { describe, expect, it } from 'vitest';
import { ArgumentError } from '../../src/core/errno.js';
import { checkList } from '../../src/demo/expect.js';
import { Heap } from '../../src/workload/heap.js';
import { buildList, LIST_NEXT, LIST_NODE_SIZE, LIST_PREFIX, LIST_VALUE } from '../../src/workload/list.js';
import { PG, ptrAt, setup, thrown, u32At, vpn } from './helpers.js';

function build(n: number, seed: number | string = 1) {
  const { sim, p } = setup();
  const heap = new Heap(p, 'list nodes');
  return { sim, p, heap, list: buildList(heap, { n, seed }) };
}

describe('workload/list: buildList', () => {
  it('writes every node as the host model says: next, value, prefix 0', () => {
    const { p, list } = build(1000);
    expect(list.length).toBe(1000);
    expect(list.head).toBe(list.addrs[0]);
    for (let i = 0; i < list.length; i++) {
      const a = list.addrs[i] as number;
      expect(ptrAt(p, a + LIST_NEXT)).toBe(list.addrs[i + 1] ?? 0);
      expect(u32At(p, a + LIST_VALUE)).toBe(list.values[i]);
      expect(u32At(p, a + LIST_PREFIX)).toBe(0);
    }
    expect(checkList(p, list, { prefixes: false })).toEqual({
      name: "list 'list nodes'",
      ok: true,
      detail: '1,000 nodes match',
    });
  });

  it('packs 1000 nodes into 4 pages and links them in shuffled order, so next jumps between pages', () => {
    const { list, heap } = build(1000);
    const sorted = [...list.addrs].sort((a, b) => a - b);
    expect(new Set(list.addrs).size).toBe(1000);
    expect((sorted[999] as number) - (sorted[0] as number)).toBe(999 * LIST_NODE_SIZE);
    expect(new Set(sorted.map(vpn)).size).toBe(4);
    let samePage = 0;
    let adjacent = 0;
    for (let i = 1; i < 1000; i++) {
      const [a, b] = [list.addrs[i - 1] as number, list.addrs[i] as number];
      if (vpn(a) === vpn(b)) samePage++;
      if (b === a + LIST_NODE_SIZE) adjacent++;
    }
    // Four pages: about a quarter of the links stay on their page by chance, hardly any are adjacent.
    expect(samePage).toBeLessThan(350);
    expect(adjacent).toBeLessThan(10);
    expect(heap.stats()).toMatchObject({ blocks: 1000, pagesInUse: 4, writes: 1 });
  });

  it('is deterministic in the seed', () => {
    const a = build(300, 42).list;
    const b = build(300, 42).list;
    const c = build(300, 43).list;
    expect(b.addrs).toEqual(a.addrs);
    expect([...b.values]).toEqual([...a.values]);
    expect([...c.values]).not.toEqual([...a.values]);
    expect(c.addrs).not.toEqual(a.addrs);
  });

  it('builds 10^5 nodes with a handful of p.write calls', () => {
    const { p, heap, list } = build(100_000);
    // 1.6 MB of nodes in two 1 MiB arenas: top-down mmap places them adjacently, one run.
    expect(heap.stats()).toMatchObject({ arenas: 2, blocks: 100_000, pagesInUse: 391 });
    expect(heap.stats().writes).toBeLessThanOrEqual(2);
    expect(p.rss().anon).toBe(391);
    expect(checkList(p, list, { prefixes: false }).ok).toBe(true);
  });

  it('an empty list has head 0', () => {
    const { list, heap } = build(0);
    expect([list.head, list.length, heap.stats().arenas]).toEqual([0, 0, 0]);
  });

  it('rejects a bad n', () => {
    const { p } = setup();
    const heap = new Heap(p, 'h');
    for (const n of [-1, 1.5, 2 ** 23])
      expect(thrown(ArgumentError, () => buildList(heap, { n, seed: 1 })).argument).toBe('n');
  });
});

describe('workload/list: layout', () => {
  it('is 16 bytes with naturally aligned fields', () => {
    expect([LIST_NEXT % 8, LIST_VALUE % 4, LIST_PREFIX % 4, LIST_NODE_SIZE]).toEqual([0, 0, 0, 16]);
    expect(PG % LIST_NODE_SIZE).toBe(0);
  });
});
