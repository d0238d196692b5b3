/**
 * Today's HMM API (Linux v6.19): hmm_range_fault on an mmu interval notifier, with the fixed
 * HMM_PFN_* encoding. The interval notifier itself is mm's (src/mm/mmu_interval_notifier.ts).
 */

export * from './hmm.js';
