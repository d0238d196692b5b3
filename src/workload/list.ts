/**
 * A singly linked list built by the CPU in process memory, for a device kernel to walk by the very
 * same pointers. The nodes are allocated in one order and linked in a shuffled one, so consecutive
 * nodes sit on different pages and every `next` jumps somewhere else: the access pattern that makes
 * shared virtual memory worth having (and that a copy-in/copy-out API cannot express).
 *
 * The host keeps its own model (node addresses in list order, values) to check what the device
 * wrote against.
 */

import { ArgumentError } from '../core/errno.js';
import { Prng } from '../core/prng.js';
import { putPtr, putU32, record } from './bytes.js';
import type { Heap } from './heap.js';

/*
 * struct lnode {           16 bytes, 8-byte aligned
 *   u64 next;      @0      next node, 0 ends the list
 *   u32 value;     @8      written by the CPU
 *   u32 prefix;    @12     written by the device: (value of every node up to and including this
 *                          one) mod 2^32
 * };
 */
export const LIST_NEXT = 0;
export const LIST_VALUE = 8;
export const LIST_PREFIX = 12;
export const LIST_NODE_SIZE = 16;
export const LIST_NODE_ALIGN = 8;

/** Largest list a workload builds (a bound on host memory, not on the simulator). */
export const LIST_NODES_MAX = 1 << 22;

export interface ListOptions {
  /** Nodes (0 makes an empty list, head 0). */
  n: number;
  /** Seeds the values and the shuffle (src/core/prng.ts). */
  seed: number | string;
}

export class List {
  readonly heap: Heap;
  /** Node addresses in list order: addrs[0] is the head. */
  readonly addrs: readonly number[];
  /** values[i] is the value of node addrs[i]. */
  readonly values: Uint32Array;

  constructor(heap: Heap, addrs: readonly number[], values: Uint32Array) {
    this.heap = heap;
    this.addrs = addrs;
    this.values = values;
  }

  /** The head pointer a kernel starts from (0 for an empty list). */
  get head(): number {
    return this.addrs[0] ?? 0;
  }

  get length(): number {
    return this.addrs.length;
  }
}

/** Builds a list of n nodes in `heap` with seeded random u32 values; one flush writes it. */
export function buildList(heap: Heap, opts: ListOptions): List {
  const { n } = opts;
  if (!Number.isInteger(n) || n < 0 || n > LIST_NODES_MAX)
    throw new ArgumentError('n', `expected 0..${LIST_NODES_MAX}, got ${n}`);
  const prng = new Prng(opts.seed);
  const allocated: number[] = [];
  for (let i = 0; i < n; i++) allocated.push(heap.malloc(LIST_NODE_SIZE, LIST_NODE_ALIGN));
  const addrs = prng.shuffle(allocated);
  const values = new Uint32Array(n);
  for (let i = 0; i < n; i++) values[i] = prng.nextU32();
  const { bytes, view } = record(LIST_NODE_SIZE);
  for (let i = 0; i < n; i++) {
    putPtr(view, LIST_NEXT, addrs[i + 1] ?? 0);
    putU32(view, LIST_VALUE, values[i] as number);
    putU32(view, LIST_PREFIX, 0);
    heap.stage(addrs[i] as number, bytes);
  }
  heap.flush();
  return new List(heap, addrs, values);
}
