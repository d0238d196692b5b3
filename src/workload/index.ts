/**
 * Workloads: what a program does with memory it shares with a device, built on the facade. A
 * workload lays data structures out in a simulated process's memory through a malloc-like heap
 * (`Heap`, over mmap, trimmed with MADV_DONTNEED), builds them with host-side models of what they
 * hold (`List`, `Tree`, a batch of lookup keys), and runs device kernels that follow the CPU's own
 * pointers (`listWalk`, `treeSum`, `treeLookup`); the same kernels run on the CPU (`runOnCpu`) so a
 * device result can be compared with one computed without the device. `MemorySnapshot` reads the
 * structures back in bulk.
 *
 * A workload knows nothing of where its pages are, of the driver's policy or of the report: the
 * demo (src/demo) runs one and checks it, and sweeps over policies run the same pieces many times.
 */

export {
  buildTree,
  type DeleteResult,
  type KeyRange,
  NIL,
  TREE_KEY,
  TREE_LEFT,
  TREE_NODE_ALIGN,
  TREE_NODE_SIZE,
  TREE_NODES_MAX,
  TREE_NOT_FOUND,
  TREE_RIGHT,
  TREE_SUM,
  TREE_VALUE,
  Tree,
  type TreeOptions,
  type UpdateResult,
} from './bst.js';
export { cpuContext, runOnCpu } from './cpu_context.js';
export {
  HEAP_ARENA_DEFAULT,
  HEAP_BLOCK_MAX,
  HEAP_GRANULE,
  Heap,
  type HeapOptions,
  type HeapRegion,
  type HeapStats,
  type TrimResult,
} from './heap.js';
export {
  type ListWalkResult,
  listWalk,
  type Tick,
  type TreeLookupResult,
  type TreeSumResult,
  treeLookup,
  treeSum,
} from './kernels.js';
export {
  buildList,
  LIST_NEXT,
  LIST_NODE_ALIGN,
  LIST_NODE_SIZE,
  LIST_NODES_MAX,
  LIST_PREFIX,
  LIST_VALUE,
  List,
  type ListOptions,
} from './list.js';
export { type LookupBatch, lookupKeys, stageLookupBatch } from './lookup.js';
export { MemorySnapshot } from './snapshot.js';
