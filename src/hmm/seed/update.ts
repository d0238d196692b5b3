/**
 * struct hmm_update: what a mirror's sync_cpu_device_pagetables() callback is told about a CPU
 * page-table change. The only event is HMM_UPDATE_INVALIDATE: "no indication as to why" — the
 * mirror must drop (or write-protect and recheck) every device entry in [start, end), whatever VA
 * range it actually mirrors. `blockable` is false only for the OOM reaper; the callback must then
 * not sleep and returns -EAGAIN if it would have to.
 *
 * @see include/linux/hmm.h (Linux v5.3: enum hmm_update_event, struct hmm_update)
 */

/** enum hmm_update_event: the only value. */
export const HMM_UPDATE_INVALIDATE = 0;

export interface HmmUpdate {
  /** Virtual start address of the range to update (inclusive). */
  readonly start: number;
  /** Virtual end address of the range to update (exclusive). */
  readonly end: number;
  /** HMM_UPDATE_INVALIDATE. */
  readonly event: number;
  /** mmu_notifier_range_blockable(): false only for the OOM reaper. */
  readonly blockable: boolean;
}
