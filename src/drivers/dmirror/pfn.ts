/**
 * dmirror's device-entry format for hmm_range: its own bits for the HMM flags and values
 * (range->flags[] / range->values[]), with the pfn above DPT_PFN_SHIFT.
 */

import {
  HMM_PFN_DEVICE_PRIVATE,
  HMM_PFN_ERROR,
  HMM_PFN_NONE,
  HMM_PFN_SPECIAL,
  HMM_PFN_VALID,
  HMM_PFN_WRITE,
} from '../../hmm/seed/entry.js';

/** Bits below the pfn in a dmirror device entry: the pfn is `entry >> DPT_PFN_SHIFT`. */
export const DPT_PFN_SHIFT = 6;
/** range->flags[HMM_PFN_VALID]: the entry maps a page. */
export const DPT_VALID = 1 << 0;
/** range->flags[HMM_PFN_WRITE]: the page may be written. */
export const DPT_WRITE = 1 << 1;
/** range->flags[HMM_PFN_DEVICE_PRIVATE]: the page is device-private memory. */
export const DPT_DEVICE_PRIVATE = 1 << 2;
/** range->values[HMM_PFN_ERROR]: the address cannot be mapped (no vma, or a bad access). */
export const DPT_ERROR = 1 << 3;
/** range->values[HMM_PFN_SPECIAL]: a pte_special mapping other than the zero page (no struct page). */
export const DPT_SPECIAL = 1 << 4;
/** range->values[HMM_PFN_NONE]: nothing mapped at the address. */
export const DPT_NONE = 0;

/** dmirror's range->flags[]: its DPT_* bit for each HMM_PFN_* flag index. */
export const DMIRROR_PFN_FLAGS: readonly number[] = (() => {
  const f: number[] = [];
  f[HMM_PFN_VALID] = DPT_VALID;
  f[HMM_PFN_WRITE] = DPT_WRITE;
  f[HMM_PFN_DEVICE_PRIVATE] = DPT_DEVICE_PRIVATE;
  return f;
})();

/** dmirror's range->values[]: its DPT_* value for each HMM_PFN_* value index. */
export const DMIRROR_PFN_VALUES: readonly number[] = (() => {
  const v: number[] = [];
  v[HMM_PFN_ERROR] = DPT_ERROR;
  v[HMM_PFN_NONE] = DPT_NONE;
  v[HMM_PFN_SPECIAL] = DPT_SPECIAL;
  return v;
})();
