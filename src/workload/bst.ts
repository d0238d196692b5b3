/**
 * A binary search tree built by the CPU in process memory, for device kernels to traverse by the
 * same pointers. Keys are distinct seeded random u32s inserted in random order, so the expected
 * depth is O(log n) and, since nodes are allocated in insertion order, most links jump from one
 * page to another.
 *
 * The CPU side also changes the tree between device runs: `update` rewrites the values of a key
 * range (CPU stores into pages the device may have mirrored or migrated), `deleteRange` unlinks
 * nodes and frees them (the heap's trim then gives wholly free pages back, an invalidation even
 * for pages the device never migrated), and `insert` adds nodes. Each keeps the host model and
 * process memory equal, which `checkTree` (expect.ts) verifies.
 *
 * The host model is a structure of arrays indexed by node id (DESIGN.md decision 4): a tree of
 * 10^5 objects linked by references builds several times slower, chasing pointers through the
 * JS heap.
 */

import { PAGE_SIZE } from '../core/addr.js';
import { ArgumentError } from '../core/errno.js';
import { Prng } from '../core/prng.js';
import { putPtr, putU32, putU64, record } from './bytes.js';
import type { Heap, TrimResult } from './heap.js';

/*
 * struct tnode {           32 bytes, 8-byte aligned
 *   u64 left;      @0      subtree of smaller keys, 0 if none
 *   u64 right;     @8      subtree of larger keys, 0 if none
 *   u32 key;       @16     distinct
 *   u32 value;     @20     written by the CPU, below TREE_NOT_FOUND
 *   u64 sum;       @24     written by the device: the sum of the values in this subtree
 * };
 */
export const TREE_LEFT = 0;
export const TREE_RIGHT = 8;
export const TREE_KEY = 16;
export const TREE_VALUE = 20;
export const TREE_SUM = 24;
export const TREE_NODE_SIZE = 32;
export const TREE_NODE_ALIGN = 8;

/** What a lookup stores for an absent key; no node holds this value. */
export const TREE_NOT_FOUND = 0xffff_ffff;
/** Largest tree a workload builds (a bound on host memory, not on the simulator). */
export const TREE_NODES_MAX = 1 << 22;
/** The host model's null node id. */
export const NIL = -1;
const U32_LIMIT = 2 ** 32;
/** Scratch records (staging copies them). */
const NODE = record(TREE_NODE_SIZE);
const PTR = record(8);
const U32 = record(4);

export interface TreeOptions {
  n: number;
  /** Seeds the keys, the values, and the values later updates and inserts draw. */
  seed: number | string;
  /** Keys are drawn from [0, keyLimit) (default 2^31, leaving the upper half for later inserts). */
  keyLimit?: number;
  /** Called once per node inserted (a progress count; it cannot change the tree). */
  tick?: () => void;
}

export interface UpdateResult {
  /** Nodes whose value changed, and the distinct pages they are on. */
  nodes: number;
  pages: number;
}

export interface DeleteResult {
  nodes: number;
  /** What the heap's trim gave back (null if trim was not asked for). */
  trim: TrimResult | null;
}

export interface KeyRange {
  lo: number;
  hi: number;
  nodes: number;
  pages: number;
}

export class Tree {
  readonly heap: Heap;
  /** Root node id, NIL for an empty tree. */
  root = NIL;
  size = 0;
  // The host model: entry `id` of each array describes one node; ids of deleted nodes are reused.
  private readonly addrs: number[] = [];
  private readonly keys: number[] = [];
  private readonly values: number[] = [];
  private readonly lefts: number[] = [];
  private readonly rights: number[] = [];
  private readonly freeIds: number[] = [];
  private readonly prng: Prng;

  constructor(heap: Heap, prng: Prng) {
    this.heap = heap;
    this.prng = prng;
  }

  /** The root pointer a kernel starts from (0 for an empty tree). */
  get rootAddr(): number {
    return this.root === NIL ? 0 : (this.addrs[this.root] as number);
  }

  addr(id: number): number {
    return this.addrs[id] as number;
  }

  key(id: number): number {
    return this.keys[id] as number;
  }

  value(id: number): number {
    return this.values[id] as number;
  }

  left(id: number): number {
    return this.lefts[id] as number;
  }

  right(id: number): number {
    return this.rights[id] as number;
  }

  /** The id of the node holding key, or NIL. */
  find(key: number): number {
    let id = this.root;
    while (id !== NIL && this.keys[id] !== key)
      id = key < (this.keys[id] as number) ? this.left(id) : this.right(id);
    return id;
  }

  /** Node ids in key order. */
  inorder(): number[] {
    return this.between(0, U32_LIMIT - 1);
  }

  /** Node ids parents first, each left subtree before the right one. */
  preorder(): number[] {
    const out: number[] = [];
    const stack = this.root === NIL ? [] : [this.root];
    for (let id = stack.pop(); id !== undefined; id = stack.pop()) {
      out.push(id);
      if (this.right(id) !== NIL) stack.push(this.right(id));
      if (this.left(id) !== NIL) stack.push(this.left(id));
    }
    return out;
  }

  /** Node ids with keys in [lo, hi], in key order; subtrees outside the range are not visited. */
  between(lo: number, hi: number): number[] {
    const out: number[] = [];
    const stack: number[] = [];
    let id = this.root;
    while (id !== NIL || stack.length > 0) {
      while (id !== NIL) {
        if (this.key(id) < lo) {
          id = this.right(id);
        } else {
          stack.push(id);
          id = this.left(id);
        }
      }
      const top = stack.pop();
      if (top === undefined || this.key(top) > hi) break;
      out.push(top);
      id = this.right(top);
    }
    return out;
  }

  /** Nodes on the longest root-to-leaf path (0 for an empty tree). */
  height(): number {
    let max = 0;
    const stack: [number, number][] = this.root === NIL ? [] : [[this.root, 1]];
    for (let top = stack.pop(); top !== undefined; top = stack.pop()) {
      const [id, depth] = top;
      max = Math.max(max, depth);
      if (this.left(id) !== NIL) stack.push([this.left(id), depth + 1]);
      if (this.right(id) !== NIL) stack.push([this.right(id), depth + 1]);
    }
    return max;
  }

  /** Distinct pages holding the given nodes (default: all of them). */
  pages(ids: readonly number[] = this.inorder()): number {
    const pages = new Set<number>();
    for (const id of ids) addPages(pages, this.addr(id));
    return pages.size;
  }

  /**
   * Inserts nodes with these keys (absent, distinct) and values (default: seeded random), allocated
   * in the order given; one flush writes the nodes and the parents' child pointers. Returns their ids.
   */
  insert(keys: readonly number[], values?: readonly number[], tick?: () => void): number[] {
    this.checkNewKeys(keys);
    if (values !== undefined) checkValues(values, keys.length);
    const ids = keys.map((key, i) => {
      const id = this.newNode(key, values?.[i] ?? this.prng.below(TREE_NOT_FOUND));
      this.stageNode(id);
      this.link(id);
      tick?.();
      return id;
    });
    this.heap.flush();
    return ids;
  }

  /**
   * The CPU changes the value of every node with a key in [lo, hi] to `next(key, old)` (default:
   * a seeded value different from the old one).
   */
  update(lo: number, hi: number, next?: (key: number, old: number) => number): UpdateResult {
    checkRange(lo, hi);
    const ids = this.between(lo, hi);
    const step = next ?? ((_key: number, old: number) => (old + 1 + this.prng.below(1000)) % TREE_NOT_FOUND);
    for (const id of ids) {
      const value = step(this.key(id), this.value(id));
      if (!Number.isInteger(value) || value < 0 || value >= TREE_NOT_FOUND)
        throw new ArgumentError(
          'next',
          `returned ${value} for key ${this.key(id)}; expected 0..${TREE_NOT_FOUND - 1}`,
        );
      this.values[id] = value;
      putU32(U32.view, 0, value);
      this.heap.stage(this.addr(id) + TREE_VALUE, U32.bytes);
    }
    this.heap.flush();
    return { nodes: ids.length, pages: this.pages(ids) };
  }

  /**
   * Removes every node with a key in [lo, hi] (textbook BST deletion: a node with two children is
   * replaced by its in-order successor, relinked by pointer so every key stays at the address it was
   * inserted at), frees the nodes and, unless `trim` is false, trims the heap.
   */
  deleteRange(lo: number, hi: number, opts: { trim?: boolean } = {}): DeleteResult {
    checkRange(lo, hi);
    const doomed = this.between(lo, hi).map((id) => this.key(id));
    for (const key of doomed) this.root = this.remove(this.root, key);
    this.heap.flush();
    return { nodes: doomed.length, trim: opts.trim === false ? null : this.heap.trim() };
  }

  /**
   * A key range starting at a random key whose nodes cover about `pageFraction` of the tree's
   * pages: with nodes spread over pages at random, a few per mille of the keys already touch a
   * quarter of the pages, which is the point of the demo's update phase.
   */
  rangeTouching(pageFraction: number, prng: Prng): KeyRange {
    if (!(pageFraction > 0 && pageFraction <= 1))
      throw new ArgumentError('pageFraction', `expected (0, 1], got ${pageFraction}`);
    const ids = this.inorder();
    if (ids.length === 0) throw new ArgumentError('pageFraction', 'the tree is empty');
    const target = Math.ceil(pageFraction * this.pages(ids));
    const pages = new Set<number>();
    let first = prng.below(ids.length);
    let last = first - 1;
    while (pages.size < target && last + 1 < ids.length) addPages(pages, this.addr(ids[++last] as number));
    while (pages.size < target && first > 0) addPages(pages, this.addr(ids[--first] as number));
    return {
      lo: this.key(ids[first] as number),
      hi: this.key(ids[last] as number),
      nodes: last - first + 1,
      pages: pages.size,
    };
  }

  /** The first broken invariant of the host model (key order, size), or null. */
  validate(): string | null {
    const ids = this.inorder();
    if (ids.length !== this.size) return `size ${this.size} but ${ids.length} nodes reachable`;
    for (let i = 1; i < ids.length; i++) {
      const a = this.key(ids[i - 1] as number);
      const b = this.key(ids[i] as number);
      if (a >= b) return `keys out of order: ${a} before ${b}`;
    }
    return null;
  }

  private newNode(key: number, value: number): number {
    const id = this.freeIds.pop() ?? this.addrs.length;
    this.addrs[id] = this.heap.malloc(TREE_NODE_SIZE, TREE_NODE_ALIGN);
    this.keys[id] = key;
    this.values[id] = value;
    this.lefts[id] = NIL;
    this.rights[id] = NIL;
    this.size++;
    return id;
  }

  private stageNode(id: number): void {
    const { view, bytes } = NODE;
    putPtr(view, TREE_LEFT, 0);
    putPtr(view, TREE_RIGHT, 0);
    putU32(view, TREE_KEY, this.key(id));
    putU32(view, TREE_VALUE, this.value(id));
    putU64(view, TREE_SUM, 0n);
    this.heap.stage(this.addr(id), bytes);
  }

  /** Hangs a new leaf under its parent: a host link and a staged store of the parent's pointer. */
  private link(id: number): void {
    if (this.root === NIL) {
      this.root = id;
      return;
    }
    const key = this.key(id);
    let parent = this.root;
    for (;;) {
      const child = key < this.key(parent) ? this.left(parent) : this.right(parent);
      if (child === NIL) break;
      parent = child;
    }
    if (key < this.key(parent)) this.setLeft(parent, id);
    else this.setRight(parent, id);
  }

  /** Removes `key` from the subtree at `id`; returns the subtree's new root. */
  private remove(id: number, key: number): number {
    if (id === NIL) return NIL;
    if (key < this.key(id)) this.setLeft(id, this.remove(this.left(id), key));
    else if (key > this.key(id)) this.setRight(id, this.remove(this.right(id), key));
    else {
      const replacement = this.unlink(id);
      this.heap.free(this.addr(id));
      this.freeIds.push(id);
      this.size--;
      return replacement;
    }
    return id;
  }

  /** What takes the place of a deleted node. */
  private unlink(id: number): number {
    if (this.left(id) === NIL) return this.right(id);
    if (this.right(id) === NIL) return this.left(id);
    let parent = NIL;
    let successor = this.right(id);
    for (; this.left(successor) !== NIL; successor = this.left(successor)) parent = successor;
    if (parent !== NIL) {
      this.setLeft(parent, this.right(successor));
      this.setRight(successor, this.right(id));
    }
    this.setLeft(successor, this.left(id));
    return successor;
  }

  private setLeft(id: number, child: number): void {
    if (this.lefts[id] === child) return;
    this.lefts[id] = child;
    this.stagePtr(this.addr(id) + TREE_LEFT, child);
  }

  private setRight(id: number, child: number): void {
    if (this.rights[id] === child) return;
    this.rights[id] = child;
    this.stagePtr(this.addr(id) + TREE_RIGHT, child);
  }

  private stagePtr(at: number, child: number): void {
    putPtr(PTR.view, 0, child === NIL ? 0 : this.addr(child));
    this.heap.stage(at, PTR.bytes);
  }

  private checkNewKeys(keys: readonly number[]): void {
    const seen = new Set<number>();
    for (const key of keys) {
      if (!Number.isInteger(key) || key < 0 || key >= U32_LIMIT)
        throw new ArgumentError('keys', `expected u32 keys, got ${key}`);
      if (seen.has(key) || this.find(key) !== NIL)
        throw new ArgumentError('keys', `key ${key} is already present`);
      seen.add(key);
    }
  }
}

/** Builds a tree of n nodes with distinct seeded random keys below keyLimit; one flush writes it. */
export function buildTree(heap: Heap, opts: TreeOptions): Tree {
  const { n } = opts;
  const keyLimit = opts.keyLimit ?? 2 ** 31;
  if (!Number.isInteger(n) || n < 0 || n > TREE_NODES_MAX)
    throw new ArgumentError('n', `expected 0..${TREE_NODES_MAX}, got ${n}`);
  // Twice as many keys as nodes keeps rejection sampling of distinct keys cheap.
  if (!Number.isInteger(keyLimit) || keyLimit < 2 * n || keyLimit > U32_LIMIT)
    throw new ArgumentError('keyLimit', `expected ${2 * n}..2^32, got ${keyLimit}`);
  const prng = new Prng(opts.seed);
  const keys = new Set<number>();
  while (keys.size < n) keys.add(prng.below(keyLimit));
  const tree = new Tree(heap, prng);
  tree.insert([...keys], undefined, opts.tick);
  return tree;
}

function addPages(pages: Set<number>, addr: number): void {
  pages.add(Math.floor(addr / PAGE_SIZE));
  pages.add(Math.floor((addr + TREE_NODE_SIZE - 1) / PAGE_SIZE));
}

function checkRange(lo: number, hi: number): void {
  if (!Number.isInteger(lo) || lo < 0 || lo >= U32_LIMIT)
    throw new ArgumentError('lo', `expected a u32 key, got ${lo}`);
  if (!Number.isInteger(hi) || hi < lo || hi >= U32_LIMIT)
    throw new ArgumentError('hi', `expected a u32 key >= lo (${lo}), got ${hi}`);
}

function checkValues(values: readonly number[], n: number): void {
  if (values.length !== n) throw new ArgumentError('values', `expected ${n} values, got ${values.length}`);
  for (const v of values)
    if (!Number.isInteger(v) || v < 0 || v >= TREE_NOT_FOUND)
      throw new ArgumentError('values', `expected 0..${TREE_NOT_FOUND - 1}, got ${v}`);
}
