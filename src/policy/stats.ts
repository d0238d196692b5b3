/**
 * What a policy's decisions came to, counted by the svm engine on the policy object it serves (a
 * sweep reads them with `policyStats(file.policy)`). Every field only grows.
 */

/** Counters of one policy object (see DESCRIPTIONS below for each). */
export interface PolicyStats {
  /** Pages migrated to device memory as prefetches (cause 'prefetch'), not because they faulted. */
  prefetchedPages: number;
  /** Of those, pages the device then accessed before they left device memory (prefetch accuracy). */
  prefetchedUsed: number;
  /** Pages a thrashing detector declared thrashing (UVM: threshold events each within the lapse). */
  thrashingEvents: number;
  /** Page faults left unserviced for a nap (UVM's throttle). */
  throttles: number;
  /** Pages pinned (UVM's pin: local, or in system memory and mapped remotely). */
  pins: number;
  /** Faulting pages mapped where they are instead of migrated. */
  remoteMaps: number;
  /** Groups of device pages evicted together (UVM: 2 MiB root chunks). */
  evictedChunks: number;
  /** KFD with XNACK off: queue evictions and the restores that revalidated the ranges. */
  queueRestores: number;
  /** Simulated µs the device waited for the policy (throttle naps, restore delays). */
  stallUs: number;
  /** Pages migrated to device memory because an access-counter notification asked for them. */
  accessCounterPages: number;
}

/** One line per counter, beside the interface so a new counter without one does not typecheck. */
export const POLICY_STATS_DESCRIPTIONS: Readonly<Record<keyof PolicyStats, string>> = {
  prefetchedPages: 'pages migrated to device memory by a prefetcher (not faulted)',
  prefetchedUsed: 'prefetched pages the device accessed while they were in device memory',
  thrashingEvents: 'pages detected thrashing (migrated back and forth within the lapse)',
  throttles: 'page faults throttled (left unserviced for a nap)',
  pins: 'thrashing pages pinned (locally, or in system memory with a remote mapping)',
  remoteMaps: 'faulting pages mapped remotely instead of migrated',
  evictedChunks: 'chunks of device memory evicted together',
  queueRestores: 'queue evictions and restores (KFD with XNACK off)',
  stallUs: 'simulated µs the device waited on policy decisions',
  accessCounterPages: 'pages migrated to device memory on access-counter notifications',
};

/** A PolicyStats with every field at 0. */
export function newPolicyStats(): PolicyStats {
  return {
    prefetchedPages: 0,
    prefetchedUsed: 0,
    thrashingEvents: 0,
    throttles: 0,
    pins: 0,
    remoteMaps: 0,
    evictedChunks: 0,
    queueRestores: 0,
    stallUs: 0,
    accessCounterPages: 0,
  };
}

const statsOf = new WeakMap<object, PolicyStats>();

/** The counters of `policy` (created at 0 on first use; one object per policy object). */
export function policyStats(policy: object): PolicyStats {
  let s = statsOf.get(policy);
  if (s === undefined) {
    s = newPolicyStats();
    statsOf.set(policy, s);
  }
  return s;
}

const unusedOf = new WeakMap<object, Set<number>>();

/** Pages `policy` prefetched that the device has not accessed yet (prefetch accuracy's books). */
export function unusedPrefetches(policy: object): Set<number> {
  let s = unusedOf.get(policy);
  if (s === undefined) {
    s = new Set();
    unusedOf.set(policy, s);
  }
  return s;
}

/** The device translated `vpn` through its page table: a prefetched page's first use is counted. */
export function notePrefetchUse(policy: object, vpn: number): void {
  const s = unusedOf.get(policy);
  if (s?.delete(vpn) === true) policyStats(policy).prefetchedUsed++;
}
