/**
 * The HMM API generations: seed/ (Linux v5.3, the one the seed drivers use) at the top level, and
 * modern/ (Linux v6.19's hmm_range_fault and HMM_PFN_* encoding) as the `modern` namespace, since
 * both name their range `HmmRange` and their walk `hmmRangeFault`.
 */

export * as modern from './modern/index.js';
export * from './seed/index.js';
