/**
 * The seed HMM API (Linux v5.3): mirroring (per-mm hmm, mirrors, ranges, snapshot/fault) on the mm's mmu notifier.
 * Device memory (devmem.ts) and migrate_vma are exported by their own modules.
 */

export * from './devmem.js';
export * from './entry.js';
export { mmHmm } from './hmm.js';
export * from './mirror.js';
export * from './range.js';
export * from './types.js';
export * from './validity.js';
