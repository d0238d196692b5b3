import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Prng } from '../../src/core/prng.js';
import {
  checkList,
  checkListWalk,
  checkLookupCounts,
  checkLookups,
  checkTree,
  checkTreeSum,
  expectedListWalk,
  expectedTreeSum,
} from '../../src/demo/expect.js';
import { buildTree, TREE_NOT_FOUND, TREE_SUM, Tree } from '../../src/workload/bst.js';
import { runOnCpu } from '../../src/workload/cpu_context.js';
import { Heap } from '../../src/workload/heap.js';
import { listWalk, treeLookup, treeSum } from '../../src/workload/kernels.js';
import { buildList, LIST_NODE_SIZE, LIST_PREFIX, List } from '../../src/workload/list.js';
import { lookupKeys, stageLookupBatch } from '../../src/workload/lookup.js';
import { PG, setup, u32At, u64At } from './helpers.js';

describe('workload/kernels: listWalk on the CPU', () => {
  it('stores running sums mod 2^32 and returns the count and the total', () => {
    const { p } = setup();
    const heap = new Heap(p, 'list nodes');
    // Three nodes, linked last-allocated first, values chosen to wrap.
    const addrs = [
      heap.malloc(LIST_NODE_SIZE),
      heap.malloc(LIST_NODE_SIZE),
      heap.malloc(LIST_NODE_SIZE),
    ].reverse();
    const list = new List(heap, addrs, Uint32Array.from([0xffff_fff0, 0x20, 5]));
    for (let i = 0; i < 3; i++) {
      const node = new DataView(new ArrayBuffer(16));
      node.setBigUint64(0, BigInt(addrs[i + 1] ?? 0), true);
      node.setUint32(8, list.values[i] as number, true);
      heap.stage(addrs[i] as number, new Uint8Array(node.buffer));
    }
    heap.flush();
    expect(runOnCpu(p, listWalk(list.head))).toEqual([{ count: 3, sum: 0x15 }]);
    expect(addrs.map((a) => u32At(p, a + LIST_PREFIX))).toEqual([0xffff_fff0, 0x10, 0x15]);
    expect(checkList(p, list)).toEqual({ name: "list 'list nodes'", ok: true, detail: '3 prefixes match' });
  });

  it('walks 1000 shuffled nodes and matches the host model', () => {
    const { p } = setup();
    const list = buildList(new Heap(p, 'list nodes'), { n: 1000, seed: 3 });
    const [r] = runOnCpu(p, listWalk(list.head));
    const total = list.values.reduce((s, v) => (s + v) >>> 0, 0);
    expect(r).toEqual({ count: 1000, sum: total });
    expect(r).toEqual(expectedListWalk(list));
    expect(checkListWalk(list, r as { count: number; sum: number }).ok).toBe(true);
    expect(checkList(p, list)).toMatchObject({ ok: true, detail: '1,000 prefixes match' });
  });

  it('returns nothing for an empty list or from any thread but 0', () => {
    const { p } = setup();
    const list = buildList(new Heap(p, 'list nodes'), { n: 10, seed: 3 });
    expect(runOnCpu(p, listWalk(0))).toEqual([{ count: 0, sum: 0 }]);
    const rs = runOnCpu(p, listWalk(list.head), 3);
    expect(rs.slice(1)).toEqual([
      { count: 0, sum: 0 },
      { count: 0, sum: 0 },
    ]);
    expect(rs[0]?.count).toBe(10);
  });
});

describe('workload/kernels: treeSum on the CPU', () => {
  it('stores every subtree sum as a u64 and returns the total', () => {
    const { p } = setup();
    const tree = new Tree(new Heap(p, 'tree nodes'), new Prng(1));
    const keys = [50, 30, 70, 20, 40, 80];
    const values = [0xffff_fffe, 1, 2, 3, 4, 5];
    const ids = tree.insert(keys, values);
    const [r] = runOnCpu(p, treeSum(tree.rootAddr));
    expect(r).toEqual({ count: 6, sum: 0xffff_fffen + 15n });
    const sumAt = (k: number) => u64At(p, tree.addr(ids[keys.indexOf(k)] as number) + TREE_SUM);
    expect([50, 30, 70, 20, 40, 80].map(sumAt)).toEqual([0xffff_fffen + 15n, 8n, 7n, 3n, 4n, 5n]);
    expect(checkTree(p, tree).ok).toBe(true);
  });

  it('sums 1000 nodes and matches the host model; the empty tree sums to 0', () => {
    const { p } = setup();
    const tree = buildTree(new Heap(p, 'tree nodes'), { n: 1000, seed: 4 });
    const [r] = runOnCpu(p, treeSum(tree.rootAddr));
    const total = tree.inorder().reduce((s, id) => s + BigInt(tree.value(id)), 0n);
    expect(r).toEqual({ count: 1000, sum: total });
    expect(r).toEqual(expectedTreeSum(tree));
    expect(checkTreeSum(tree, r as { count: number; sum: bigint }).ok).toBe(true);
    expect(checkTree(p, tree)).toMatchObject({
      ok: true,
      detail: '1,000 nodes: pointers, keys, values and subtree sums match',
    });
    expect(runOnCpu(p, treeSum(0))).toEqual([{ count: 0, sum: 0n }]);
  });
});

describe('workload/kernels: treeLookup on the CPU', () => {
  it('splits the keys among threads, stores found values and TREE_NOT_FOUND', () => {
    const { p } = setup();
    const tree = new Tree(new Heap(p, 'tree nodes'), new Prng(1));
    tree.insert([5, 3, 8], [50, 30, 80]);
    const batch = stageLookupBatch(tree.heap, Uint32Array.from([3, 4, 8, 5, 9]));
    const rs = runOnCpu(p, treeLookup(tree.rootAddr, batch.keysAddr, 5, batch.outAddr), 2);
    expect(rs).toEqual([
      { lookups: 3, found: 2 },
      { lookups: 2, found: 1 },
    ]);
    expect([0, 1, 2, 3, 4].map((i) => u32At(p, batch.outAddr + 4 * i))).toEqual([
      30,
      TREE_NOT_FOUND,
      80,
      50,
      TREE_NOT_FOUND,
    ]);
    expect(checkLookups(p, tree, batch)).toEqual({
      name: "lookups in 'tree nodes'",
      ok: true,
      detail: '5 lookups match (3 found)',
    });
  });

  it('looks up 1000 keys with 8 threads and matches the host model', () => {
    const { p } = setup();
    const tree = buildTree(new Heap(p, 'tree nodes'), { n: 2000, seed: 5 });
    const keys = lookupKeys(tree, 1000, 6);
    const batch = stageLookupBatch(new Heap(p, 'lookups'), keys);
    const rs = runOnCpu(p, treeLookup(tree.rootAddr, batch.keysAddr, keys.length, batch.outAddr), 8);
    expect(rs.map((r) => r.lookups)).toEqual([125, 125, 125, 125, 125, 125, 125, 125]);
    const check = checkLookups(p, tree, batch);
    expect(check.ok).toBe(true);
    const found = rs.reduce((s, r) => s + r.found, 0);
    expect(check.detail).toBe(`1,000 lookups match (${found} found)`);
    // About 3 in 4 keys were drawn from the tree.
    expect(found).toBeGreaterThan(700);
    expect(found).toBeLessThan(800);
    expect(checkLookupCounts(tree, batch, rs).ok).toBe(true);
  });
});

describe('workload/kernels: after the CPU changes the tree', () => {
  it('stale sums fail the check until treeSum runs again; then everything matches', () => {
    const { p } = setup();
    const heap = new Heap(p, 'tree nodes');
    const tree = buildTree(heap, { n: 3000, seed: 8 });
    runOnCpu(p, treeSum(tree.rootAddr));
    expect(checkTree(p, tree).ok).toBe(true);

    const range = tree.rangeTouching(0.15, new Prng(2));
    tree.update(range.lo, range.hi);
    const stale = checkTree(p, tree);
    expect(stale.ok).toBe(false);
    expect(stale.detail).toMatch(/: sum \d+, expected \d+$/);

    const keys = tree.inorder().map((id) => tree.key(id));
    tree.deleteRange(keys[100] as number, keys[400] as number);
    tree.insert([2 ** 31 + 1, 2 ** 31 + 7, 5]);
    expect(tree.validate()).toBeNull();
    const [r] = runOnCpu(p, treeSum(tree.rootAddr));
    expect(r).toEqual(expectedTreeSum(tree));
    expect(checkTree(p, tree).ok).toBe(true);

    const batch = stageLookupBatch(heap, lookupKeys(tree, 300, 9));
    runOnCpu(p, treeLookup(tree.rootAddr, batch.keysAddr, 300, batch.outAddr), 4);
    expect(checkLookups(p, tree, batch).ok).toBe(true);
  });

  it('every kernel matches the host model over seeds and sizes (property)', () => {
    fc.assert(
      fc.property(
        fc.nat(),
        fc.integer({ min: 0, max: 400 }),
        fc.integer({ min: 1, max: 16 }),
        (seed, n, threads) => {
          const { p } = setup(1024);
          const list = buildList(new Heap(p, 'list nodes', { arenaSize: 4 * PG }), { n, seed });
          expect(runOnCpu(p, listWalk(list.head))).toEqual([expectedListWalk(list)]);
          expect(checkList(p, list).ok).toBe(true);
          const heap = new Heap(p, 'tree nodes', { arenaSize: 4 * PG });
          const tree = buildTree(heap, { n, seed });
          expect(runOnCpu(p, treeSum(tree.rootAddr))).toEqual([expectedTreeSum(tree)]);
          expect(checkTree(p, tree).ok).toBe(true);
          const keys = lookupKeys(tree, 50, seed, n === 0 ? 0 : 75);
          const batch = stageLookupBatch(heap, keys);
          const rs = runOnCpu(
            p,
            treeLookup(tree.rootAddr, batch.keysAddr, keys.length, batch.outAddr),
            threads,
          );
          expect(checkLookups(p, tree, batch).ok).toBe(true);
          expect(checkLookupCounts(tree, batch, rs).ok).toBe(true);
        },
      ),
      { numRuns: 25 },
    );
  });
});
