/**
 * What the demo's kernels must produce, computed from the host models alone, and the checks that
 * read process memory back and compare. A check returns a record rather than throwing, so the
 * demo can print every verdict: `detail` names the first mismatch, or says how much matched.
 */

import type { Process } from '../sim/process.js';
import type { Tree } from '../workload/bst.js';
import {
  NIL,
  TREE_KEY,
  TREE_LEFT,
  TREE_NODE_SIZE,
  TREE_NOT_FOUND,
  TREE_RIGHT,
  TREE_SUM,
  TREE_VALUE,
} from '../workload/bst.js';
import { hex, thousands } from '../workload/bytes.js';
import type { ListWalkResult, TreeLookupResult, TreeSumResult } from '../workload/kernels.js';
import type { List } from '../workload/list.js';
import { LIST_NEXT, LIST_NODE_SIZE, LIST_PREFIX, LIST_VALUE } from '../workload/list.js';
import type { LookupBatch } from '../workload/lookup.js';
import { MemorySnapshot } from '../workload/snapshot.js';

export interface CheckResult {
  name: string;
  ok: boolean;
  detail: string;
}

/** prefix[i] = (values[0] + ... + values[i]) mod 2^32. */
export function expectedPrefixes(list: List): Uint32Array {
  const out = new Uint32Array(list.length);
  let sum = 0;
  list.values.forEach((v, i) => {
    sum = (sum + v) >>> 0;
    out[i] = sum;
  });
  return out;
}

export function expectedListWalk(list: List): ListWalkResult {
  return { count: list.length, sum: list.length === 0 ? 0 : (expectedPrefixes(list).at(-1) as number) };
}

/** Each node's subtree sum, by node id. */
export function expectedSubtreeSums(tree: Tree): Map<number, bigint> {
  const sums = new Map<number, bigint>();
  const sumOf = (id: number) => (id === NIL ? 0n : (sums.get(id) as bigint));
  // Reverse pre-order visits children before parents.
  for (const id of tree.preorder().reverse())
    sums.set(id, sumOf(tree.left(id)) + sumOf(tree.right(id)) + BigInt(tree.value(id)));
  return sums;
}

export function expectedTreeSum(tree: Tree): TreeSumResult {
  let sum = 0n;
  for (const id of tree.inorder()) sum += BigInt(tree.value(id));
  return { count: tree.size, sum };
}

export function expectedLookups(tree: Tree, keys: Uint32Array): Uint32Array {
  return keys.map((k) => {
    const id = tree.find(k);
    return id === NIL ? TREE_NOT_FOUND : tree.value(id);
  });
}

/**
 * Reads every node back: `next` and `value` must be what the CPU built, and (unless `prefixes` is
 * false, before any walk) `prefix` what listWalk must have stored.
 */
export function checkList(
  p: Process,
  list: List,
  opts: { prefixes?: boolean; tick?: () => void } = {},
): CheckResult {
  const name = `list '${list.heap.name}'`;
  const prefixes = opts.prefixes !== false;
  const expected = expectedPrefixes(list);
  const mem = new MemorySnapshot(p, list.addrs, LIST_NODE_SIZE);
  for (let i = 0; i < list.length; i++) {
    const a = list.addrs[i] as number;
    const at = `node ${i} at ${hex(a)}`;
    const next = list.addrs[i + 1] ?? 0;
    if (mem.ptr(a + LIST_NEXT) !== next)
      return fail(name, `${at}: next ${hex(mem.ptr(a + LIST_NEXT))}, expected ${hex(next)}`);
    if (mem.u32(a + LIST_VALUE) !== list.values[i])
      return fail(name, `${at}: value ${mem.u32(a + LIST_VALUE)}, expected ${list.values[i]}`);
    if (prefixes && mem.u32(a + LIST_PREFIX) !== expected[i])
      return fail(name, `${at}: prefix ${mem.u32(a + LIST_PREFIX)}, expected ${expected[i]}`);
    opts.tick?.();
  }
  const what = prefixes ? 'prefixes' : 'nodes';
  return { name, ok: true, detail: `${thousands(list.length)} ${what} match` };
}

/**
 * Reads every node back: child pointers, key and value must equal the host model, and (unless
 * `sums` is false) `sum` the subtree sum treeSum must have stored.
 */
export function checkTree(
  p: Process,
  tree: Tree,
  opts: { sums?: boolean; tick?: () => void } = {},
): CheckResult {
  const name = `tree '${tree.heap.name}'`;
  const checkSums = opts.sums !== false;
  const sums = checkSums ? expectedSubtreeSums(tree) : null;
  const ids = tree.preorder();
  const mem = new MemorySnapshot(
    p,
    ids.map((id) => tree.addr(id)),
    TREE_NODE_SIZE,
  );
  for (const id of ids) {
    const bad = nodeMismatch(mem, tree, id, sums?.get(id) ?? null);
    if (bad !== null) return fail(name, `node key ${tree.key(id)} at ${hex(tree.addr(id))}: ${bad}`);
    opts.tick?.();
  }
  const what = checkSums ? 'pointers, keys, values and subtree sums' : 'pointers, keys and values';
  return { name, ok: true, detail: `${thousands(ids.length)} nodes: ${what} match` };
}

/** Reads the results array back and compares it with lookups in the host model. */
export function checkLookups(p: Process, tree: Tree, batch: LookupBatch): CheckResult {
  const name = `lookups in '${tree.heap.name}'`;
  const expected = expectedLookups(tree, batch.keys);
  const n = batch.keys.length;
  const out = p.read(batch.outAddr, 4 * n);
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  let found = 0;
  for (let i = 0; i < n; i++) {
    const got = view.getUint32(4 * i, true);
    if (got !== expected[i])
      return fail(name, `out[${i}] (key ${batch.keys[i]}): ${got}, expected ${expected[i]}`);
    if (got !== TREE_NOT_FOUND) found++;
  }
  return { name, ok: true, detail: `${thousands(n)} lookups match (${thousands(found)} found)` };
}

/** Compares what listWalk returned with the host model. */
export function checkListWalk(list: List, result: ListWalkResult): CheckResult {
  const want = expectedListWalk(list);
  const ok = result.count === want.count && result.sum === want.sum;
  const detail = `count ${thousands(result.count)}, sum ${result.sum}${ok ? '' : `; expected ${thousands(want.count)}, ${want.sum}`}`;
  return { name: `listWalk '${list.heap.name}'`, ok, detail };
}

/** Compares what treeSum returned with the host model. */
export function checkTreeSum(tree: Tree, result: TreeSumResult): CheckResult {
  const want = expectedTreeSum(tree);
  const ok = result.count === want.count && result.sum === want.sum;
  const detail = `count ${thousands(result.count)}, sum ${result.sum}${ok ? '' : `; expected ${thousands(want.count)}, ${want.sum}`}`;
  return { name: `treeSum '${tree.heap.name}'`, ok, detail };
}

/** Compares what the treeLookup threads returned (all of them) with the host model. */
export function checkLookupCounts(
  tree: Tree,
  batch: LookupBatch,
  results: readonly TreeLookupResult[],
): CheckResult {
  const lookups = results.reduce((s, r) => s + r.lookups, 0);
  const found = results.reduce((s, r) => s + r.found, 0);
  const wantFound = expectedLookups(tree, batch.keys).filter((v) => v !== TREE_NOT_FOUND).length;
  const ok = lookups === batch.keys.length && found === wantFound;
  const detail = `${thousands(lookups)} lookups by ${results.length} threads, ${thousands(found)} found${
    ok ? '' : `; expected ${thousands(batch.keys.length)}, ${thousands(wantFound)}`
  }`;
  return { name: `treeLookup '${tree.heap.name}'`, ok, detail };
}

function nodeMismatch(mem: MemorySnapshot, tree: Tree, id: number, sum: bigint | null): string | null {
  const a = tree.addr(id);
  const ptr = (child: number) => (child === NIL ? 0 : tree.addr(child));
  const fields: [string, number | bigint, number | bigint][] = [
    ['left', mem.ptr(a + TREE_LEFT), ptr(tree.left(id))],
    ['right', mem.ptr(a + TREE_RIGHT), ptr(tree.right(id))],
    ['key', mem.u32(a + TREE_KEY), tree.key(id)],
    ['value', mem.u32(a + TREE_VALUE), tree.value(id)],
  ];
  if (sum !== null) fields.push(['sum', mem.u64(a + TREE_SUM), sum]);
  for (const [field, got, want] of fields) {
    if (got === want) continue;
    const show = (x: number | bigint) => (field === 'left' || field === 'right' ? hex(Number(x)) : String(x));
    return `${field} ${show(got)}, expected ${show(want)}`;
  }
  return null;
}

function fail(name: string, detail: string): CheckResult {
  return { name, ok: false, detail };
}
