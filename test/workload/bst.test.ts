import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ArgumentError } from '../../src/core/errno.js';
import { Prng } from '../../src/core/prng.js';
import { checkTree } from '../../src/demo/expect.js';
import {
  buildTree,
  NIL,
  TREE_KEY,
  TREE_LEFT,
  TREE_NODE_SIZE,
  TREE_NOT_FOUND,
  TREE_RIGHT,
  TREE_SUM,
  TREE_VALUE,
  Tree,
} from '../../src/workload/bst.js';
import { Heap } from '../../src/workload/heap.js';
import { PG, ptrAt, setup, thrown, u32At, u64At, vpn } from './helpers.js';

function build(n: number, seed: number | string = 1, keyLimit?: number) {
  const { sim, p } = setup();
  const heap = new Heap(p, 'tree nodes');
  return { sim, p, heap, tree: buildTree(heap, { n, seed, keyLimit }) };
}

/** A tree with chosen keys and values, inserted in the order given. */
function handmade(keys: number[]) {
  const { p } = setup();
  const heap = new Heap(p, 'tree nodes');
  const tree = new Tree(heap, new Prng(1));
  const ids = tree.insert(
    keys,
    keys.map((k) => k * 10),
  );
  const byKey = (k: number) => tree.addr(ids[keys.indexOf(k)] as number);
  return { p, heap, tree, byKey };
}

const keysOf = (tree: Tree) => tree.inorder().map((id) => tree.key(id));

describe('workload/bst: buildTree', () => {
  it('writes every node as the host model says, sums 0, and keeps keys ordered', () => {
    const { p, tree } = build(1000);
    expect([tree.size, tree.validate()]).toEqual([1000, null]);
    for (const id of tree.preorder()) {
      const a = tree.addr(id);
      const child = (c: number) => (c === NIL ? 0 : tree.addr(c));
      expect(ptrAt(p, a + TREE_LEFT)).toBe(child(tree.left(id)));
      expect(ptrAt(p, a + TREE_RIGHT)).toBe(child(tree.right(id)));
      expect([u32At(p, a + TREE_KEY), u32At(p, a + TREE_VALUE), u64At(p, a + TREE_SUM)]).toEqual([
        tree.key(id),
        tree.value(id),
        0n,
      ]);
      expect(tree.value(id)).toBeLessThan(TREE_NOT_FOUND);
    }
    const keys = keysOf(tree);
    expect(keys).toEqual([...keys].sort((a, b) => a - b));
    expect(new Set(keys).size).toBe(1000);
    expect(keys.every((k) => k < 2 ** 31)).toBe(true);
    expect(checkTree(p, tree, { sums: false })).toEqual({
      name: "tree 'tree nodes'",
      ok: true,
      detail: '1,000 nodes: pointers, keys and values match',
    });
  });

  it('has logarithmic depth and parents away from their children', () => {
    const { tree } = build(4000);
    // A random BST of 4000 keys is about 30 deep; a sorted insertion would be 4000.
    expect(tree.height()).toBeGreaterThan(12);
    expect(tree.height()).toBeLessThan(50);
    let samePage = 0;
    for (const id of tree.preorder())
      for (const c of [tree.left(id), tree.right(id)])
        if (c !== NIL && vpn(tree.addr(c)) === vpn(tree.addr(id))) samePage++;
    // Nodes near the root get their children soon after them (their key intervals are wide), so
    // more than 1 link in 32 stays on its page; most still jump.
    expect(samePage).toBeLessThan(0.15 * 4000);
    expect(tree.pages()).toBe(32);
  });

  it('is deterministic in the seed', () => {
    const a = build(500, 9).tree;
    const b = build(500, 9).tree;
    expect(keysOf(b)).toEqual(keysOf(a));
    expect(a.preorder().map((id) => a.value(id))).toEqual(b.preorder().map((id) => b.value(id)));
    expect(keysOf(build(500, 10).tree)).not.toEqual(keysOf(a));
  });

  it('rejects bad arguments', () => {
    const { p } = setup();
    const heap = new Heap(p, 'h');
    expect(thrown(ArgumentError, () => buildTree(heap, { n: -1, seed: 1 })).argument).toBe('n');
    expect(thrown(ArgumentError, () => buildTree(heap, { n: 100, seed: 1, keyLimit: 150 })).argument).toBe(
      'keyLimit',
    );
    const tree = buildTree(heap, { n: 10, seed: 1 });
    const k = tree.key(tree.root);
    expect(thrown(ArgumentError, () => tree.insert([k])).argument).toBe('keys');
    expect(thrown(ArgumentError, () => tree.insert([2 ** 32])).argument).toBe('keys');
    expect(thrown(ArgumentError, () => tree.insert([5, 5])).argument).toBe('keys');
    expect(thrown(ArgumentError, () => tree.insert([2 ** 31 + 1], [TREE_NOT_FOUND])).argument).toBe('values');
    expect(thrown(ArgumentError, () => tree.update(5, 4)).argument).toBe('hi');
    expect(thrown(ArgumentError, () => tree.deleteRange(-1, 4)).argument).toBe('lo');
    expect(thrown(ArgumentError, () => tree.update(0, 2 ** 32 - 1, () => TREE_NOT_FOUND)).argument).toBe(
      'next',
    );
  });
});

describe('workload/bst: update', () => {
  it('changes exactly the values of the key range, through CPU stores', () => {
    const { p, tree } = build(2000);
    const before = new Map(tree.inorder().map((id) => [tree.key(id), tree.value(id)]));
    const range = tree.rangeTouching(0.2, new Prng(5));
    const inRange = keysOf(tree).filter((k) => k >= range.lo && k <= range.hi);
    const r = tree.update(range.lo, range.hi);
    expect(r).toEqual({ nodes: inRange.length, pages: range.pages });
    for (const id of tree.inorder()) {
      const k = tree.key(id);
      const changed = tree.value(id) !== before.get(k);
      expect(changed).toBe(k >= range.lo && k <= range.hi);
      expect(u32At(p, tree.addr(id) + TREE_VALUE)).toBe(tree.value(id));
    }
    expect(checkTree(p, tree, { sums: false }).ok).toBe(true);
  });

  it('rangeTouching picks a range covering the asked fraction of pages with few keys', () => {
    const { tree } = build(20_000);
    const pages = tree.pages();
    expect(pages).toBe(157);
    for (const f of [0.1, 0.25]) {
      const r = tree.rangeTouching(f, new Prng(3));
      expect(r.pages).toBeGreaterThanOrEqual(Math.ceil(f * pages));
      expect(r.pages).toBeLessThanOrEqual(Math.ceil(f * pages) + 1);
      // With 128 random keys per page, a quarter of the pages takes well under 1% of the keys.
      expect(r.nodes).toBeLessThan(0.01 * 20_000);
      expect(tree.between(r.lo, r.hi)).toHaveLength(r.nodes);
    }
  });

  it('takes a replacement function', () => {
    const { p, tree, byKey } = handmade([2, 1, 3]);
    expect(tree.update(1, 2, (key, old) => old + key)).toEqual({ nodes: 2, pages: 1 });
    expect([
      u32At(p, byKey(1) + TREE_VALUE),
      u32At(p, byKey(2) + TREE_VALUE),
      u32At(p, byKey(3) + TREE_VALUE),
    ]).toEqual([11, 22, 30]);
  });
});

describe('workload/bst: deleteRange and insert', () => {
  it('relinks the in-order successor in memory when a node with two children goes', () => {
    const { p, tree, byKey, heap } = handmade([50, 30, 70, 20, 40, 60, 80, 65]);
    const r = tree.deleteRange(50, 50);
    expect(r.nodes).toBe(1);
    expect(tree.rootAddr).toBe(byKey(60));
    expect([ptrAt(p, byKey(60) + TREE_LEFT), ptrAt(p, byKey(60) + TREE_RIGHT)]).toEqual([
      byKey(30),
      byKey(70),
    ]);
    expect(ptrAt(p, byKey(70) + TREE_LEFT)).toBe(byKey(65));
    expect(keysOf(tree)).toEqual([20, 30, 40, 60, 65, 70, 80]);
    expect(heap.stats().blocks).toBe(7);
    expect(checkTree(p, tree, { sums: false }).ok).toBe(true);
  });

  it('handles leaves, one-child nodes and a successor that is the right child', () => {
    const { p, tree, byKey } = handmade([50, 30, 70, 20, 80, 75]);
    tree.deleteRange(20, 20); // leaf
    expect(ptrAt(p, byKey(30) + TREE_LEFT)).toBe(0);
    tree.deleteRange(80, 80); // one child
    expect(ptrAt(p, byKey(70) + TREE_RIGHT)).toBe(byKey(75));
    tree.deleteRange(50, 50); // successor 70 is the right child
    expect(tree.rootAddr).toBe(byKey(70));
    expect([ptrAt(p, byKey(70) + TREE_LEFT), ptrAt(p, byKey(70) + TREE_RIGHT)]).toEqual([
      byKey(30),
      byKey(75),
    ]);
    expect(tree.validate()).toBeNull();
    tree.deleteRange(0, 2 ** 32 - 1);
    expect([tree.size, tree.root, tree.rootAddr, tree.height()]).toEqual([0, NIL, 0, 0]);
  });

  it('removes exactly the range, frees the nodes, and inserts reuse them', () => {
    const { p, tree, heap } = build(3000);
    const keys = keysOf(tree);
    const [lo, hi] = [keys[1000] as number, keys[1499] as number];
    const r = tree.deleteRange(lo, hi, { trim: false });
    expect(r).toEqual({ nodes: 500, trim: null });
    expect(keysOf(tree)).toEqual([...keys.slice(0, 1000), ...keys.slice(1500)]);
    expect(tree.validate()).toBeNull();
    expect(heap.stats().blocks).toBe(2500);
    const ids = tree.insert([lo, hi]);
    expect(heap.stats()).toMatchObject({ blocks: 2502, arenas: 1 });
    expect(ids.map((id) => tree.key(id))).toEqual([lo, hi]);
    expect(checkTree(p, tree, { sums: false }).ok).toBe(true);
  });

  it('deleting a batch inserted together frees whole pages, and trim madvises exactly those', () => {
    const { p, tree, heap } = build(2000);
    expect(heap.stats().madvises).toBe(0);
    const prng = new Prng(11);
    const batch = new Set<number>();
    while (batch.size < 1000) batch.add(2 ** 31 + prng.below(2 ** 31));
    const ids = tree.insert([...batch]);
    const batchPages = new Set(ids.map((id) => vpn(tree.addr(id))));
    const otherPages = new Set(
      tree
        .inorder()
        .filter((id) => tree.key(id) < 2 ** 31)
        .map((id) => vpn(tree.addr(id))),
    );
    const whollyBatch = [...batchPages].filter((v) => !otherPages.has(v)).sort((a, b) => a - b);
    // 2000 nodes fill bytes 0..64000 of the arena and the batch 64000..96000: page 15 is shared,
    // pages 16..23 are the batch's alone.
    expect([batchPages.size, whollyBatch.length]).toEqual([9, 8]);
    const rss = p.rss().anon;
    const r = tree.deleteRange(2 ** 31, 2 ** 32 - 1);
    expect(r.nodes).toBe(1000);
    expect(r.trim).toEqual({
      pages: 8,
      calls: 1,
      ranges: [{ start: (whollyBatch[0] as number) * PG, end: ((whollyBatch[7] as number) + 1) * PG }],
    });
    for (const v of whollyBatch) expect(p.pte(v * PG).kind).toBe('none');
    expect(p.rss().anon).toBe(rss - 8);
    expect(tree.size).toBe(2000);
    expect(heap.stats()).toMatchObject({ blocks: 2000, pagesTrimmed: 8, madvises: 1 });
    // The check reads only pages holding nodes: the trimmed pages stay unmapped.
    expect(checkTree(p, tree, { sums: false }).ok).toBe(true);
    for (const v of whollyBatch) expect(p.pte(v * PG).kind).toBe('none');
  });

  it('keeps the BST invariant and memory equal to the model under random inserts, updates and deletes (property)', () => {
    const op = fc.oneof(
      fc.record({
        kind: fc.constant('insert' as const),
        keys: fc.uniqueArray(fc.nat(4000), { maxLength: 40 }),
      }),
      fc.record({ kind: fc.constant('delete' as const), lo: fc.nat(4000), span: fc.nat(800) }),
      fc.record({ kind: fc.constant('update' as const), lo: fc.nat(4000), span: fc.nat(800) }),
    );
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 300 }),
        fc.nat(),
        fc.array(op, { maxLength: 12 }),
        (n, seed, ops) => {
          const { p } = setup(1024);
          const heap = new Heap(p, 'tree nodes', { arenaSize: 4 * PG });
          const tree = buildTree(heap, { n, seed, keyLimit: 4001 });
          const model = new Map(tree.inorder().map((id) => [tree.key(id), tree.value(id)]));
          for (const o of ops) {
            if (o.kind === 'insert') {
              const fresh = o.keys.filter((k) => !model.has(k));
              const ids = tree.insert(fresh);
              for (const id of ids) model.set(tree.key(id), tree.value(id));
            } else if (o.kind === 'delete') {
              tree.deleteRange(o.lo, o.lo + o.span);
              for (const k of [...model.keys()]) if (k >= o.lo && k <= o.lo + o.span) model.delete(k);
            } else {
              tree.update(o.lo, o.lo + o.span, (k, v) => (v + k + 1) % TREE_NOT_FOUND);
              for (const [k, v] of model)
                if (k >= o.lo && k <= o.lo + o.span) model.set(k, (v + k + 1) % TREE_NOT_FOUND);
            }
            expect(tree.validate()).toBeNull();
          }
          expect(tree.inorder().map((id) => [tree.key(id), tree.value(id)])).toEqual(
            [...model].sort((a, b) => a[0] - b[0]),
          );
          expect(heap.stats().blocks).toBe(model.size);
          expect(checkTree(p, tree, { sums: false }).ok).toBe(true);
        },
      ),
      { numRuns: 40 },
    );
  });
});

describe('workload/bst: layout', () => {
  it('is 32 bytes with naturally aligned fields', () => {
    expect([
      TREE_LEFT % 8,
      TREE_RIGHT % 8,
      TREE_KEY % 4,
      TREE_VALUE % 4,
      TREE_SUM % 8,
      TREE_NODE_SIZE,
    ]).toEqual([0, 0, 0, 0, 0, 32]);
  });
});
