/**
 * A batch of lookups for the `treeLookup` kernel: the keys array and the results array both live
 * in process memory (u32 each), the keys written by the CPU, the results by the device threads.
 */

import { ArgumentError } from '../core/errno.js';
import { Prng } from '../core/prng.js';
import { NIL, type Tree } from './bst.js';
import type { Heap } from './heap.js';

export interface LookupBatch {
  keys: Uint32Array;
  /** Where the kernel reads keys[i] (u32) and stores its result out[i] (u32). */
  keysAddr: number;
  outAddr: number;
}

/**
 * `count` keys, each present in the tree with probability presentPercent/100 (picked among its
 * keys) and otherwise a key it does not hold.
 */
export function lookupKeys(
  tree: Tree,
  count: number,
  seed: number | string,
  presentPercent = 75,
): Uint32Array {
  if (!Number.isInteger(count) || count < 0) throw new ArgumentError('count', `expected >= 0, got ${count}`);
  if (!Number.isInteger(presentPercent) || presentPercent < 0 || presentPercent > 100)
    throw new ArgumentError('presentPercent', `expected 0..100, got ${presentPercent}`);
  const ids = tree.inorder();
  if (ids.length === 0 && presentPercent > 0)
    throw new ArgumentError('presentPercent', 'the tree is empty: no key can be present');
  const prng = new Prng(seed);
  const keys = new Uint32Array(count);
  for (let i = 0; i < count; i++) {
    if (prng.chance(presentPercent, 100)) keys[i] = tree.key(prng.pick(ids));
    else keys[i] = absentKey(tree, prng);
  }
  return keys;
}

function absentKey(tree: Tree, prng: Prng): number {
  for (;;) {
    const key = prng.nextU32();
    if (tree.find(key) === NIL) return key;
  }
}

/** Allocates both arrays in `heap` and writes the keys (results start zeroed). */
export function stageLookupBatch(heap: Heap, keys: Uint32Array): LookupBatch {
  if (!(keys instanceof Uint32Array) || keys.length === 0)
    throw new ArgumentError('keys', 'expected a non-empty Uint32Array');
  const bytes = keys.length * 4;
  const keysAddr = heap.malloc(bytes, 4);
  const outAddr = heap.malloc(bytes, 4);
  const le = new Uint8Array(bytes);
  const view = new DataView(le.buffer);
  for (let i = 0; i < keys.length; i++) view.setUint32(4 * i, keys[i] as number, true);
  heap.stage(keysAddr, le);
  heap.stage(outAddr, new Uint8Array(bytes));
  heap.flush();
  return { keys, keysAddr, outAddr };
}
