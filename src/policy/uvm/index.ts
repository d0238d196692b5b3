/** The UVM policy (uvm.ts) and its parts: the prefetcher, the thrashing detector, the root-chunk LRU. */
export { UVM_ROOT_CHUNK_PAGES, UvmRootChunks } from './pmm.js';
export {
  computePrefetchRegion,
  type PrefetchBlock,
  type PrefetchRegion,
  type PrefetchResult,
  UVM_BIG_PAGE_PAGES,
  UVM_PREFETCH_THRESHOLD_DEFAULT,
  uvmPrefetch,
} from './prefetch.js';
export {
  type Processor,
  type ThrashingHint,
  type ThrashingParams,
  UVM_THRASHING_DEFAULTS,
  UvmThrashing,
} from './thrashing.js';
export { UVM_VA_BLOCK_PAGES, type UvmParams, type UvmPolicy, uvmPolicy } from './uvm.js';
