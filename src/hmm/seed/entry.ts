/**
 * Device entries: how HMM writes one CPU page-table state into `range.pfns[i]` with the driver's
 * own encoding. The driver gives three tables (hmm.h):
 *
 *   flags[HMM_PFN_VALID | HMM_PFN_WRITE | HMM_PFN_DEVICE_PRIVATE]  its bit for each HMM flag
 *   values[HMM_PFN_ERROR | HMM_PFN_NONE | HMM_PFN_SPECIAL]         its full value for each state
 *   pfnShift                                                      an entry is (pfn << pfnShift) | flags
 *
 * Every present output is `E(pfn) = (pfn << pfnShift) | flags[VALID]`, ORed with the CPU flags.
 * The same array is the input: `(pfns[i] & pfnFlagsMask) | defaultFlags` is page i's request.
 *
 * Divergence (DESIGN decision 7): entries are JS numbers, `pfn * 2**pfnShift + flagBits`, not u64.
 * The driver's flag bits must lie below 2**pfnShift and pfnShift must be at most 12, so that every
 * entry (40-bit pfn, 12 flag bits) stays an exact integer below 2^53. The doc's `1 << 63` flags are
 * therefore impossible; a driver uses low bits instead. `values` may be any non-negative safe
 * integer. Only the low pfnShift bits of a request (and of defaultFlags and pfnFlagsMask) can hold
 * flags, so those are the bits HMM looks at; pfnFlagsMask = -1 (the kernel's `-1UL`) means "all".
 *
 * In this model a struct page is its pfn, so the *ToPage/FromPage helpers take and return pfns;
 * -1 plays the part of NULL (and of -1UL for hmmDeviceEntryToPfn).
 *
 * @see include/linux/hmm.h (Linux v5.3: enum hmm_pfn_flag_e, enum hmm_pfn_value_e,
 *      hmm_device_entry_to_page/_to_pfn/_from_page/_from_pfn, hmm_pfn_* old-API wrappers,
 *      hmm_range_page_shift/_size)
 */

import { pow2 } from '../../core/addr.js';
import { ArgumentError } from '../../core/errno.js';

/** enum hmm_pfn_flag_e: indices into range.flags. */
export const HMM_PFN_VALID = 0;
/** HMM_PFN_WRITE: the CPU mapping is writable (on input: the driver asks for write access). */
export const HMM_PFN_WRITE = 1;
/** HMM_PFN_DEVICE_PRIVATE: the entry is a device-private page (of any device). */
export const HMM_PFN_DEVICE_PRIVATE = 2;
/** Number of HMM_PFN_* flags: the length of range.flags. */
export const HMM_PFN_FLAG_MAX = 3;

/** enum hmm_pfn_value_e: indices into range.values. */
export const HMM_PFN_ERROR = 0;
/** HMM_PFN_NONE: nothing is mapped there (only returned when not faulting). */
export const HMM_PFN_NONE = 1;
/** HMM_PFN_SPECIAL: a special mapping (zero page, pfnmap) the device must not use. */
export const HMM_PFN_SPECIAL = 2;
/** Number of HMM_PFN_* values: the length of range.values. */
export const HMM_PFN_VALUE_MAX = 3;

/** The largest pfnShift that keeps every entry exact (DESIGN decision 7). */
export const HMM_PFN_SHIFT_MAX = 12;

/** The part of struct hmm_range the encoding helpers read. */
export interface HmmEntryTables {
  /** The driver's bit for each HMM_PFN_* flag, indexed by the flag. */
  readonly flags: readonly number[];
  /** The driver's encoding of each HMM_PFN_* value, indexed by the value. */
  readonly values: readonly number[];
  /** Bits the pfn is shifted left by in each entry. */
  readonly pfnShift: number;
}

/** @internal x mod span with the sign of span: the low bits of an integer, also for negative ones. */
export function lowBits(x: number, span: number): number {
  return x - Math.floor(x / span) * span;
}

/** The driver's flag bits of an entry (its low pfnShift bits). */
export function hmmEntryFlags(range: HmmEntryTables, entry: number): number {
  return lowBits(entry, pow2(range.pfnShift));
}

/** hmm_device_entry_from_pfn: (pfn << pfn_shift) | flags[HMM_PFN_VALID]. */
export function hmmDeviceEntryFromPfn(range: HmmEntryTables, pfn: number): number {
  checkPfn(pfn);
  return pfn * pow2(range.pfnShift) + (range.flags[HMM_PFN_VALID] as number);
}

/** hmm_device_entry_from_page: the same for page_to_pfn(page); a page is its pfn here. */
export function hmmDeviceEntryFromPage(range: HmmEntryTables, page: number): number {
  return hmmDeviceEntryFromPfn(range, page);
}

/**
 * hmm_device_entry_to_pfn: -1 (the kernel's -1UL) if the entry is exactly values[NONE], [ERROR] or
 * [SPECIAL], or lacks flags[VALID]; otherwise entry >> pfn_shift.
 */
export function hmmDeviceEntryToPfn(range: HmmEntryTables, entry: number): number {
  const v = range.values;
  if (entry === v[HMM_PFN_NONE] || entry === v[HMM_PFN_ERROR] || entry === v[HMM_PFN_SPECIAL]) return -1;
  const span = pow2(range.pfnShift);
  if ((lowBits(entry, span) & (range.flags[HMM_PFN_VALID] as number)) === 0) return -1;
  return Math.floor(entry / span);
}

/** hmm_device_entry_to_page: as hmmDeviceEntryToPfn, -1 standing for NULL. */
export function hmmDeviceEntryToPage(range: HmmEntryTables, entry: number): number {
  return hmmDeviceEntryToPfn(range, entry);
}

/** hmm_pfn_to_page (old API name kept by v5.3 to avoid cross-tree conflicts). */
export const hmmPfnToPage = hmmDeviceEntryToPage;
/** hmm_pfn_to_pfn (old API name). */
export const hmmPfnToPfn = hmmDeviceEntryToPfn;
/** hmm_pfn_from_page (old API name). */
export const hmmPfnFromPage = hmmDeviceEntryFromPage;
/** hmm_pfn_from_pfn (old API name). */
export const hmmPfnFromPfn = hmmDeviceEntryFromPfn;

/** hmm_range_page_shift. */
export function hmmRangePageShift(range: { readonly pageShift: number }): number {
  return range.pageShift;
}

/** hmm_range_page_size: 1 << page_shift. */
export function hmmRangePageSize(range: { readonly pageShift: number }): number {
  return 2 ** range.pageShift;
}

/**
 * The driver's tables must make entries exact and unambiguous: pfnShift an integer in 0..12,
 * exactly three flags, each an integer in [0, 2**pfnShift), exactly three values, each a
 * non-negative safe integer, with values[NONE] different from values[ERROR] and values[SPECIAL]
 * (hmm.h: ERROR and SPECIAL may share a value, NONE must not share one with either).
 * defaultFlags and pfnFlagsMask must be safe integers (their low pfnShift bits are what counts).
 * Throws ArgumentError, naming the field.
 */
export function checkRangeTables(
  range: HmmEntryTables & { defaultFlags: number; pfnFlagsMask: number },
): void {
  const { pfnShift, flags, values } = range;
  if (!Number.isInteger(pfnShift) || pfnShift < 0 || pfnShift > HMM_PFN_SHIFT_MAX) {
    throw new ArgumentError(
      'range.pfnShift',
      `expected an integer in 0..${HMM_PFN_SHIFT_MAX} (entries are pfn * 2**pfnShift + flags), got ${pfnShift}`,
    );
  }
  const span = 2 ** pfnShift;
  if (!Array.isArray(flags) || flags.length !== HMM_PFN_FLAG_MAX) {
    throw new ArgumentError(
      'range.flags',
      `expected ${HMM_PFN_FLAG_MAX} flags (VALID, WRITE, DEVICE_PRIVATE)`,
    );
  }
  for (let i = 0; i < HMM_PFN_FLAG_MAX; i++) {
    const f = flags[i];
    if (typeof f !== 'number' || !Number.isInteger(f) || f < 0 || f >= span) {
      throw new ArgumentError(
        `range.flags[${i}]`,
        `expected an integer in [0, 2**pfnShift = ${span}): flag bits sit below the pfn, got ${f}`,
      );
    }
  }
  if (!Array.isArray(values) || values.length !== HMM_PFN_VALUE_MAX) {
    throw new ArgumentError('range.values', `expected ${HMM_PFN_VALUE_MAX} values (ERROR, NONE, SPECIAL)`);
  }
  for (let i = 0; i < HMM_PFN_VALUE_MAX; i++) {
    const v = values[i];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
      throw new ArgumentError(`range.values[${i}]`, `expected a non-negative safe integer, got ${v}`);
    }
  }
  if (values[HMM_PFN_NONE] === values[HMM_PFN_ERROR] || values[HMM_PFN_NONE] === values[HMM_PFN_SPECIAL]) {
    throw new ArgumentError(
      'range.values',
      'values[HMM_PFN_NONE] must differ from values[HMM_PFN_ERROR] and values[HMM_PFN_SPECIAL] (hmm.h)',
    );
  }
  if (!Number.isSafeInteger(range.defaultFlags)) {
    throw new ArgumentError('range.defaultFlags', `expected a safe integer, got ${range.defaultFlags}`);
  }
  if (!Number.isSafeInteger(range.pfnFlagsMask)) {
    throw new ArgumentError('range.pfnFlagsMask', `expected a safe integer, got ${range.pfnFlagsMask}`);
  }
}

function checkPfn(pfn: number): void {
  if (!Number.isSafeInteger(pfn) || pfn < 0 || pfn >= 2 ** 40) {
    throw new ArgumentError('pfn', `expected an integer in [0, 2^40), got ${pfn}`);
  }
}
