import { describe, expect, it } from 'vitest';
import * as workload from '../../src/workload/index.js';
import { setup } from './helpers.js';

describe('workload/index: one import for a whole workload', () => {
  it('builds a list and a tree on one heap and runs the three kernels on the CPU', () => {
    const { p } = setup();
    const heap = new workload.Heap(p, 'nodes');
    const list = workload.buildList(heap, { n: 50, seed: 3 });
    const tree = workload.buildTree(heap, { n: 40, seed: 4 });
    let listSum = 0;
    for (const v of list.values) listSum = (listSum + v) >>> 0;
    expect(workload.runOnCpu(p, workload.listWalk(list.head))).toEqual([{ count: 50, sum: listSum }]);
    let treeTotal = 0n;
    for (const id of tree.inorder()) treeTotal += BigInt(tree.value(id));
    expect(workload.runOnCpu(p, workload.treeSum(tree.rootAddr))).toEqual([{ count: 40, sum: treeTotal }]);
    const keys = workload.lookupKeys(tree, 16, 5, 100);
    const batch = workload.stageLookupBatch(heap, keys);
    const results = workload.runOnCpu(
      p,
      workload.treeLookup(tree.rootAddr, batch.keysAddr, keys.length, batch.outAddr),
      2,
    );
    expect(results).toEqual([
      { lookups: 8, found: 8 },
      { lookups: 8, found: 8 },
    ]);
    const out = new workload.MemorySnapshot(p, [batch.outAddr], 4 * keys.length);
    for (let i = 0; i < keys.length; i++)
      expect(out.u32(batch.outAddr + 4 * i)).toBe(tree.value(tree.find(keys[i] as number)));
  });

  it('exports the building blocks and not the argument helpers or the byte encoding', () => {
    expect(Object.keys(workload).sort()).toEqual([
      'HEAP_ARENA_DEFAULT',
      'HEAP_BLOCK_MAX',
      'HEAP_GRANULE',
      'Heap',
      'LIST_NEXT',
      'LIST_NODES_MAX',
      'LIST_NODE_ALIGN',
      'LIST_NODE_SIZE',
      'LIST_PREFIX',
      'LIST_VALUE',
      'List',
      'MemorySnapshot',
      'NIL',
      'TREE_KEY',
      'TREE_LEFT',
      'TREE_NODES_MAX',
      'TREE_NODE_ALIGN',
      'TREE_NODE_SIZE',
      'TREE_NOT_FOUND',
      'TREE_RIGHT',
      'TREE_SUM',
      'TREE_VALUE',
      'Tree',
      'buildList',
      'buildTree',
      'cpuContext',
      'listWalk',
      'lookupKeys',
      'runOnCpu',
      'stageLookupBatch',
      'treeLookup',
      'treeSum',
    ]);
  });
});
