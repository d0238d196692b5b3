/**
 * The mm's tracepoints (Kernel.tracepoints): today's API steps that the viewer's timeline shows.
 * Observation only; an emitter tests `enabled` first, so they cost nothing when nobody listens.
 *
 * The kernel has no trace event on these paths (mm/mmu_notifier.c and mm/migrate_device.c, v6.19,
 * define none; migrate.c's mm_migrate_pages is for CPU migration), so each is named after the
 * function it traces.
 */

import type { MmStruct } from './mm.js';

/** A page range of one mm: [start, end) in bytes. */
export interface MmTraceRange {
  /** The mm. */
  readonly mm: MmStruct;
  /** First byte. */
  readonly start: number;
  /** End (exclusive). */
  readonly end: number;
}

/** The mm's tracepoints and what each carries. */
export interface MmTracepoints {
  /**
   * mn_itree_invalidate calling one subscription's invalidate: the interval's range (its start and
   * last + 1, not the invalidation's), the MMU_NOTIFY_ event and the sequence count it is given.
   * @see mm/mmu_notifier.c mn_itree_invalidate (v6.19)
   */
  mmu_interval_notifier_invalidate: MmTraceRange & {
    /** The invalidation's range start. */
    readonly rangeStart: number;
    /** The invalidation's range end. */
    readonly rangeEnd: number;
    /** The MMU_NOTIFY_ event. */
    readonly event: number;
    /** The sequence count passed to the callback. */
    readonly seq: number;
  };
  /** migrate_vma_setup returned 0: `npages` entries, `cpages` collected and unmapped. @see mm/migrate_device.c (v6.19) */
  migrate_vma_setup: MmTraceRange & MigrateTraceCounts;
  /** migrate_vma_pages: the copy's struct page moves. @see mm/migrate_device.c (v6.19) */
  migrate_vma_pages: MmTraceRange & MigrateTraceCounts;
  /** migrate_vma_finalize: migration entries replaced and pages released. @see mm/migrate_device.c (v6.19) */
  migrate_vma_finalize: MmTraceRange & MigrateTraceCounts;
}

/** A migrate_vma step's counts. */
export interface MigrateTraceCounts {
  /** Entries of the range. */
  readonly npages: number;
  /** Pages collected (and still migrating). */
  readonly cpages: number;
}
