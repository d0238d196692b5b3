/**
 * The UVM policy (uvm.ts) and its parts: the prefetcher, the thrashing detector, the root-chunk LRU,
 * the access counters.
 */
export {
  type AccessCounterNotification,
  UVM_ACCESS_COUNTER_GRANULARITIES,
  UVM_ACCESS_COUNTER_GRANULARITY_DEFAULT,
  UVM_ACCESS_COUNTER_THRESHOLD_DEFAULT,
  UVM_ACCESS_COUNTER_THRESHOLD_MAX,
  UVM_SUB_GRANULARITY_REGIONS,
  UvmAccessCounters,
} from './access_counters.js';
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
