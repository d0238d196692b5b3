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

export const DPT_PFN_SHIFT = 6;
export const DPT_VALID = 1 << 0;
export const DPT_WRITE = 1 << 1;
export const DPT_DEVICE_PRIVATE = 1 << 2;
export const DPT_ERROR = 1 << 3;
export const DPT_SPECIAL = 1 << 4;
export const DPT_NONE = 0;

export const DMIRROR_PFN_FLAGS: readonly number[] = (() => {
  const f: number[] = [];
  f[HMM_PFN_VALID] = DPT_VALID;
  f[HMM_PFN_WRITE] = DPT_WRITE;
  f[HMM_PFN_DEVICE_PRIVATE] = DPT_DEVICE_PRIVATE;
  return f;
})();

export const DMIRROR_PFN_VALUES: readonly number[] = (() => {
  const v: number[] = [];
  v[HMM_PFN_ERROR] = DPT_ERROR;
  v[HMM_PFN_NONE] = DPT_NONE;
  v[HMM_PFN_SPECIAL] = DPT_SPECIAL;
  return v;
})();
