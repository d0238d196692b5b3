import { describe, expect, it } from 'vitest';
import { Prng } from '../../src/core/prng.js';
import {
  checkList,
  checkListWalk,
  checkLookupCounts,
  checkLookups,
  checkTree,
  checkTreeSum,
  expectedLookups,
  expectedPrefixes,
  expectedSubtreeSums,
} from '../../src/demo/expect.js';
import { buildTree, TREE_LEFT, TREE_SUM, TREE_VALUE, Tree } from '../../src/workload/bst.js';
import { hex } from '../../src/workload/bytes.js';
import { runOnCpu } from '../../src/workload/cpu_context.js';
import { Heap } from '../../src/workload/heap.js';
import { listWalk, treeLookup, treeSum } from '../../src/workload/kernels.js';
import { buildList, LIST_NEXT, LIST_PREFIX, List } from '../../src/workload/list.js';
import { stageLookupBatch } from '../../src/workload/lookup.js';
import { MemorySnapshot } from '../../src/workload/snapshot.js';
import { PG, setup } from '../workload/helpers.js';

const u32 = (v: number) => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v, true);
  return b;
};

describe('demo/expect: expected values from the host models', () => {
  it('prefix sums wrap mod 2^32', () => {
    const { p } = setup();
    const list = new List(new Heap(p, 'h'), [0x1000, 0x2000, 0x3000], Uint32Array.from([0xffff_ffff, 2, 3]));
    expect([...expectedPrefixes(list)]).toEqual([0xffff_ffff, 1, 4]);
  });

  it('subtree sums and lookups', () => {
    const { p } = setup();
    const tree = new Tree(new Heap(p, 'h'), new Prng(1));
    const [a, b, c] = tree.insert([2, 1, 3], [0xffff_fffe, 7, 0xffff_fffe]) as [number, number, number];
    expect(expectedSubtreeSums(tree)).toEqual(
      new Map([
        [a, 0xffff_fffen * 2n + 7n],
        [b, 7n],
        [c, 0xffff_fffen],
      ]),
    );
    expect([...expectedLookups(tree, Uint32Array.from([1, 4, 2]))]).toEqual([7, 0xffff_ffff, 0xffff_fffe]);
  });
});

describe('demo/expect: checks read memory back and name the first mismatch', () => {
  it('checkList catches a wrong prefix and a broken link', () => {
    const { p } = setup();
    const list = buildList(new Heap(p, 'list nodes'), { n: 500, seed: 1 });
    expect(checkList(p, list).ok).toBe(false); // never walked: prefixes are 0
    runOnCpu(p, listWalk(list.head));
    expect(checkList(p, list).ok).toBe(true);
    const a7 = list.addrs[7] as number;
    const want = expectedPrefixes(list)[7] as number;
    const wrong = (want ^ 1) >>> 0;
    p.write(a7 + LIST_PREFIX, u32(wrong));
    expect(checkList(p, list)).toEqual({
      name: "list 'list nodes'",
      ok: false,
      detail: `node 7 at ${hex(a7)}: prefix ${wrong}, expected ${want}`,
    });
    const a3 = list.addrs[3] as number;
    p.write(a3 + LIST_NEXT, u32(0));
    expect(checkList(p, list).detail).toMatch(
      new RegExp(`^node 3 at ${hex(a3)}: next 0x[0-9a-f]+, expected ${hex(list.addrs[4] as number)}$`),
    );
  });

  it('checkTree catches a wrong sum, value or pointer', () => {
    const { p } = setup();
    const tree = buildTree(new Heap(p, 'tree nodes'), { n: 500, seed: 2 });
    runOnCpu(p, treeSum(tree.rootAddr));
    expect(checkTree(p, tree).ok).toBe(true);
    const leaf = tree.inorder().find((id) => tree.left(id) === -1 && tree.right(id) === -1) as number;
    const a = tree.addr(leaf);
    p.write(a + TREE_SUM, new Uint8Array(8));
    expect(checkTree(p, tree)).toEqual({
      name: "tree 'tree nodes'",
      ok: false,
      detail: `node key ${tree.key(leaf)} at ${hex(a)}: sum 0, expected ${tree.value(leaf)}`,
    });
    expect(checkTree(p, tree, { sums: false }).ok).toBe(true);
    p.write(a + TREE_VALUE, u32(tree.value(leaf) + 1));
    expect(checkTree(p, tree, { sums: false }).detail).toMatch(/: value \d+, expected \d+$/);
    p.write(tree.rootAddr + TREE_LEFT, new Uint8Array(8));
    expect(checkTree(p, tree, { sums: false }).detail).toMatch(/: left 0x0, expected 0x[0-9a-f]+$/);
  });

  it('checkLookups and the result checks catch wrong answers', () => {
    const { p } = setup();
    const tree = new Tree(new Heap(p, 'tree nodes'), new Prng(1));
    tree.insert([5, 3, 8], [50, 30, 80]);
    const batch = stageLookupBatch(tree.heap, Uint32Array.from([3, 4]));
    expect(checkLookups(p, tree, batch)).toMatchObject({
      ok: false,
      detail: 'out[0] (key 3): 0, expected 30',
    });
    const rs = runOnCpu(p, treeLookup(tree.rootAddr, batch.keysAddr, 2, batch.outAddr));
    expect(checkLookups(p, tree, batch).ok).toBe(true);
    expect(checkLookupCounts(tree, batch, rs)).toEqual({
      name: "treeLookup 'tree nodes'",
      ok: true,
      detail: '2 lookups by 1 threads, 1 found',
    });
    expect(checkLookupCounts(tree, batch, [{ lookups: 2, found: 2 }]).ok).toBe(false);
    expect(checkTreeSum(tree, { count: 3, sum: 160n }).ok).toBe(true);
    expect(checkTreeSum(tree, { count: 3, sum: 161n })).toMatchObject({
      ok: false,
      detail: 'count 3, sum 161; expected 3, 160',
    });
    const list = new List(tree.heap, [], new Uint32Array(0));
    expect(checkListWalk(list, { count: 0, sum: 0 }).ok).toBe(true);
    expect(checkListWalk(list, { count: 1, sum: 0 }).ok).toBe(false);
  });
});

describe('workload/snapshot: bulk read-back', () => {
  it('reads each page under the records once, adjacent pages as one run', () => {
    const { p } = setup();
    const heap = new Heap(p, 'h', { arenaSize: 8 * PG });
    const a = heap.malloc(8);
    const far = heap.malloc(8, PG);
    heap.malloc(5 * PG);
    const last = heap.malloc(8);
    heap.stage(a, u32(11));
    heap.stage(far, u32(22));
    heap.stage(last, u32(33));
    heap.flush();
    const snap = new MemorySnapshot(p, [a, far, last, far], 8);
    expect([snap.u32(a), snap.u32(far), snap.u32(last)]).toEqual([11, 22, 33]);
    expect([snap.pages, snap.reads]).toEqual([3, 2]);
    expect(() => snap.u32(a + 2 * PG)).toThrow(/was not read/);
  });
});
