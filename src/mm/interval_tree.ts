/**
 * An interval tree over closed intervals [start, last], answering "which nodes overlap [a, b]".
 *
 * The kernel uses an augmented rbtree (lib/interval_tree.c on include/linux/interval_tree_generic.h):
 * nodes ordered by start, equal starts inserted to the right (so in insertion order), and an overlap
 * iteration that visits the overlapping nodes in that in-order sequence. This model keeps the same
 * order in a sorted array and scans it: the visit order, the only thing a caller can observe, is the
 * same, and a linear scan is easy to check by eye. O(n) per query instead of O(log n + k) does not
 * matter at the sizes a simulation holds (a few intervals per mm).
 *
 * @see lib/interval_tree.c, include/linux/interval_tree_generic.h (torvalds/linux c2818c9a)
 */

import { KernelBug } from '../core/assert.js';

/** What an IntervalTree holds: a closed interval [start, last]. */
export interface IntervalTreeNode {
  /** The first address covered. */
  readonly start: number;
  /** The last address covered: the interval is closed, as the kernel's. */
  readonly last: number;
}

/** interval_tree: nodes kept in rbtree in-order sequence (see the file comment). @see lib/interval_tree.c */
export class IntervalTree<T extends IntervalTreeNode> {
  private readonly nodes: T[] = [];

  /** Number of nodes in the tree. */
  get size(): number {
    return this.nodes.length;
  }

  /** Whether `node` itself (by identity) is in the tree. */
  has(node: T): boolean {
    return this.nodes.includes(node);
  }

  /** interval_tree_insert: after every node with start <= node.start (equal starts go right). */
  insert(node: T): void {
    if (this.has(node)) throw new KernelBug('interval_tree_insert: node already in the tree');
    let i = this.nodes.length;
    while (i > 0 && (this.nodes[i - 1] as T).start > node.start) i--;
    this.nodes.splice(i, 0, node);
  }

  /** interval_tree_remove */
  remove(node: T): void {
    const i = this.nodes.indexOf(node);
    if (i < 0) throw new KernelBug('interval_tree_remove: node not in the tree');
    this.nodes.splice(i, 1);
  }

  /** interval_tree_iter_first/next: every node overlapping [start, last], in tree order. */
  overlapping(start: number, last: number): T[] {
    return this.nodes.filter((n) => n.start <= last && n.last >= start);
  }
}
