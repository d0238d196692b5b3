/**
 * The workload's device kernels: plain code that follows the CPU's own pointers. Nothing here knows
 * where a page is (system memory, device memory, not yet mirrored): every `yield*` on the context
 * is one load or store through the device MMU, and a miss becomes a replayable fault the driver
 * services through HMM before the access is retried (src/device/kernel.ts). "Any valid pointer on
 * the CPU is also a valid pointer for the device" is the whole programming model.
 *
 * Each factory takes the kernel's arguments (pointers into the process) and returns the body
 * every thread of the launch runs. The same kernels run on the CPU through cpu_context.ts, which
 * is how the tests check them.
 */

import type { DeviceKernel, DeviceKernelContext } from '../device/kernel.js';
import type { Task } from '../sched/task.js';
import { TREE_KEY, TREE_LEFT, TREE_NOT_FOUND, TREE_RIGHT, TREE_SUM, TREE_VALUE } from './bst.js';
import { LIST_NEXT, LIST_PREFIX, LIST_VALUE } from './list.js';

/**
 * Called once per node visited or key looked up: the host's progress count (never read back by the
 * kernel, so it cannot change what the kernel does).
 */
export type Tick = () => void;

const noTick: Tick = () => {};

export interface ListWalkResult {
  /** Nodes visited. */
  count: number;
  /** Sum of their values mod 2^32 (the last node's prefix). */
  sum: number;
}

export interface TreeSumResult {
  count: number;
  /** The root's subtree sum: every value in the tree. */
  sum: bigint;
}

export interface TreeLookupResult {
  /** Keys this thread looked up, and how many were present. */
  lookups: number;
  found: number;
}

/**
 * Walks the list from `head`, storing into each node the running sum of values up to and including
 * it. A list walk is inherently serial: thread 0 does it, any other thread returns at once.
 */
export function listWalk(head: number, tick: Tick = noTick): DeviceKernel<ListWalkResult> {
  return function* (ctx: DeviceKernelContext): Task<ListWalkResult> {
    let count = 0;
    let sum = 0;
    if (ctx.threadId !== 0) return { count, sum };
    for (let node = head; node !== 0; node = yield* ctx.loadPtr(node + LIST_NEXT)) {
      sum = (sum + (yield* ctx.load32(node + LIST_VALUE))) >>> 0;
      yield* ctx.store32(node + LIST_PREFIX, sum);
      count++;
      tick();
    }
    return { count, sum };
  };
}

/**
 * Stores into every node the sum of the values of its subtree, in post-order. The recursion is
 * written out as an explicit stack of frames (a device thread has a small fixed stack, and a
 * recursive `yield*` chain would make every access pay for the depth of the tree): a frame is
 * one call, `pending` its children still to visit, `sum` what they have added up to so far.
 * Serial like listWalk: thread 0 does it.
 */
export function treeSum(root: number, tick: Tick = noTick): DeviceKernel<TreeSumResult> {
  return function* (ctx: DeviceKernelContext): Task<TreeSumResult> {
    if (ctx.threadId !== 0 || root === 0) return { count: 0, sum: 0n };
    const stack: SumFrame[] = [yield* enter(ctx, root)];
    let count = 0;
    let total = 0n;
    while (stack.length > 0) {
      const top = stack[stack.length - 1] as SumFrame;
      const child = top.pending.pop();
      if (child !== undefined) {
        stack.push(yield* enter(ctx, child));
        continue;
      }
      // Both subtrees are done: the node's own sum is complete, and its parent's grows by it.
      stack.pop();
      top.sum += BigInt(yield* ctx.load32(top.node + TREE_VALUE));
      yield* ctx.store64(top.node + TREE_SUM, top.sum);
      count++;
      tick();
      const parent = stack[stack.length - 1];
      if (parent !== undefined) parent.sum += top.sum;
      else total = top.sum;
    }
    return { count, sum: total };
  };
}

interface SumFrame {
  node: number;
  /** Children not yet visited, the next one last. */
  pending: number[];
  sum: bigint;
}

function* enter(ctx: DeviceKernelContext, node: number): Task<SumFrame> {
  const left = yield* ctx.loadPtr(node + TREE_LEFT);
  const right = yield* ctx.loadPtr(node + TREE_RIGHT);
  return { node, pending: [right, left].filter((child) => child !== 0), sum: 0n };
}

/**
 * Looks up keys[i] for i = threadId, threadId + threads, ... and stores the value found (or
 * TREE_NOT_FOUND) into out[i]. Both arrays are u32 in process memory: the keys written by the CPU,
 * the results read back by it.
 */
export function treeLookup(
  root: number,
  keysAddr: number,
  nkeys: number,
  outAddr: number,
  tick: Tick = noTick,
): DeviceKernel<TreeLookupResult> {
  return function* (ctx: DeviceKernelContext): Task<TreeLookupResult> {
    let lookups = 0;
    let found = 0;
    for (let i = ctx.threadId; i < nkeys; i += ctx.threads) {
      const key = yield* ctx.load32(keysAddr + 4 * i);
      let node = root;
      while (node !== 0) {
        const k = yield* ctx.load32(node + TREE_KEY);
        if (k === key) break;
        node = yield* ctx.loadPtr(node + (key < k ? TREE_LEFT : TREE_RIGHT));
      }
      const value = node === 0 ? TREE_NOT_FOUND : yield* ctx.load32(node + TREE_VALUE);
      yield* ctx.store32(outAddr + 4 * i, value);
      lookups++;
      tick();
      if (node !== 0) found++;
    }
    return { lookups, found };
  };
}
