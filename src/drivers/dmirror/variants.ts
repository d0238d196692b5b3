/**
 * Broken dmirror drivers: the catalogue the race explorer is measured against. Each variant is the
 * reference driver with ONE deviation from the protocol of hmm.rst ("Address space mirroring
 * implementation and API") or of migrate_vma: a subclass of Dmirror in src/drivers/dmirror_broken/
 * overriding the one step (populateRange's rangeFault, beforeUpdateLock, checkValid, rangeDone;
 * syncCpuDevicePagetables, erasePtEntries; finalize_and_map's mapsDestination) where a driver
 * author would get it wrong. 'correct' has no bugs and is the reference driver itself.
 *
 *   sim.openDevice(0, p, { variant: 'no-valid-check' })     (through the simulator's registry)
 *
 * Each entry says what is wrong (the deviation) and what breaks (what a checker observes, and what
 * it takes to see it). docs/explorer.md ("Broken drivers") lists the scenarios that reveal each one.
 *
 * Model note: code between two scheduling points runs atomically, and dmirror's "check
 * hmm_range_valid, then program" and its invalidation callback's erase are each one atomic step.
 * A missing lock therefore cannot corrupt state by itself here (on a real SMP machine it can): the
 * driver's lockdep_assert_held on the update lock, in every device page-table writer, reports it.
 */

import { ArgumentError, describeValue } from '../../core/errno.js';

/** A DMIRROR_VARIANTS entry: what the variant gets wrong and what a checker sees break. */
export interface DmirrorVariantInfo {
  /** One line: the deviation from the correct driver. */
  readonly wrong: string;
  /** One line: what breaks, as a checker sees it. */
  readonly breaks: string;
}

/** The broken-driver catalogue, by variant name (`sim.openDevice`'s `variant` option); see the file comment. */
export const DMIRROR_VARIANTS = {
  /** The reference driver: no deviation. */
  correct: {
    /** {@inheritDoc DmirrorVariantInfo.wrong} */
    wrong: 'nothing: the reference driver (hmm.rst driver_populate_range and its locking rule).',
    /** {@inheritDoc DmirrorVariantInfo.breaks} */
    breaks: "nothing; under protocol 'seed' only the seed design's own race (docs/kernel-hmm.md §6 #3).",
  },
  /** Programs the device page table without checking hmm_range_valid. */
  'no-valid-check': {
    /** {@inheritDoc DmirrorVariantInfo.wrong} */
    wrong: 'driver_populate_range programs the device page table without checking hmmRangeValid().',
    /** {@inheritDoc DmirrorVariantInfo.breaks} */
    breaks:
      'pfns walked before an invalidation that already ran this mirror’s sync are programmed: the ' +
      'device maps a page the CPU then unmaps and frees (and reads whoever gets it next).',
  },
  /** Checks hmm_range_valid outside the update lock. */
  'unlocked-valid-check': {
    /** {@inheritDoc DmirrorVariantInfo.wrong} */
    wrong: 'checks hmmRangeValid() before taking the update lock, then takes the lock to program.',
    /** {@inheritDoc DmirrorVariantInfo.breaks} */
    breaks:
      'an invalidation that starts after the check erases this mirror before the program: the device ' +
      'maps a page the CPU then unmaps and frees.',
  },
  /** The invalidation callback erases device entries unlocked. */
  'no-lock-in-sync': {
    /** {@inheritDoc DmirrorVariantInfo.wrong} */
    wrong: 'syncCpuDevicePagetables erases device entries without taking the update lock.',
    /** {@inheritDoc DmirrorVariantInfo.breaks} */
    breaks:
      'the erase is not serialised with a fault’s check-and-program; lockdep_assert_held in the erase ' +
      'reports it (LockdepBug) at the first invalidation.',
  },
  /** The invalidation callback sleeps on the update lock when it may not block. */
  'sleep-nonblockable': {
    /** {@inheritDoc DmirrorVariantInfo.wrong} */
    wrong: 'syncCpuDevicePagetables takes the update lock with a sleeping mutex_lock even when !blockable.',
    /** {@inheritDoc DmirrorVariantInfo.breaks} */
    breaks:
      'the OOM reaper’s non-blockable invalidation sleeps: "BUG: sleeping function called from invalid ' +
      'context" (it must trylock and return -EAGAIN).',
  },
  /** Programs from a range it already unregistered. */
  'map-after-unregister': {
    /** {@inheritDoc DmirrorVariantInfo.wrong} */
    wrong: 'hmmRangeUnregister as soon as the walk succeeds, then lock, check and program from the range.',
    /** {@inheritDoc DmirrorVariantInfo.breaks} */
    breaks:
      'unregister clears range->valid and poisons range->hmm: the locked check always fails and the ' +
      'retry hands the poisoned range to hmm_range_fault (KernelBug: general protection fault).',
  },
  /** Takes hmm_range_fault's -EBUSY for success. */
  'ignore-ebusy': {
    /** {@inheritDoc DmirrorVariantInfo.wrong} */
    wrong: 'treats -EBUSY from hmmRangeFault as success and goes on to lock, check and program.',
    /** {@inheritDoc DmirrorVariantInfo.breaks} */
    breaks:
      'the pfns are the previous walk’s; if the invalidation ends before the locked check, valid is ' +
      'true again and the stale pfns are programmed: the device maps a page the CPU freed.',
  },
  /** The invalidation callback keeps writable device entries. */
  'no-write-erase': {
    /** {@inheritDoc DmirrorVariantInfo.wrong} */
    wrong: 'syncCpuDevicePagetables erases only read-only entries and keeps writable ones.',
    /** {@inheritDoc DmirrorVariantInfo.breaks} */
    breaks:
      'after mprotect(PROT_READ) or fork’s COW write-protect the device keeps a writable entry where ' +
      'the CPU is read-only: a device write after fork lands in the page the child shares.',
  },
  /** Maps migration destinations that did not migrate. */
  'free-mapped-page': {
    /** {@inheritDoc DmirrorVariantInfo.wrong} */
    wrong:
      'finalize_and_map maps every device page it allocated, without checking that the page migrated ' +
      '(MIGRATE_PFN_MIGRATE still set in src).',
    /** {@inheritDoc DmirrorVariantInfo.breaks} */
    breaks:
      'migrate_vma_finalize frees a destination that did not migrate (back on the device free list) ' +
      'while the device page table maps it: the device reads a free page, not the CPU’s data.',
  },
  /** Unregisters the mirror before clearing the device page table at close. */
  'close-unregister-first': {
    /** {@inheritDoc DmirrorVariantInfo.wrong} */
    wrong:
      "release() unregisters the mirror, then clears the device page table (the reference driver's order before issue 16).",
    /** {@inheritDoc DmirrorVariantInfo.breaks} */
    breaks:
      'a CPU fault between the two migrates a device page back and frees it while the device, no longer told of invalidations, still maps it (close-vs-cpuread).',
  },
  /** Drops the update lock twice when the locked validity check fails. */
  'unlock-twice-on-retry': {
    /** {@inheritDoc DmirrorVariantInfo.wrong} */
    wrong:
      'when hmmRangeValid() fails under the update lock, the check unlocks it and the retry path unlocks it again.',
    /** {@inheritDoc DmirrorVariantInfo.breaks} */
    breaks:
      'the second mutex_unlock is of a mutex the thread no longer holds: a KernelBug at the first invalidation that lands between walk and check.',
  },
  /** Fails the device access on -EBUSY instead of retrying. */
  'ebusy-fatal': {
    /** {@inheritDoc DmirrorVariantInfo.wrong} */
    wrong: 'turns -EBUSY from hmmRangeFault into -EFAULT and fails the command.',
    /** {@inheritDoc DmirrorVariantInfo.breaks} */
    breaks:
      'a device read racing any invalidation fails although the pages stay mapped (the scenario check, integrity).',
  },
  /** Looks the VMA up before taking mmap_lock. */
  'vma-lookup-unlocked': {
    /** {@inheritDoc DmirrorVariantInfo.wrong} */
    wrong: 'the READ command calls find_vma before taking mmap_sem.',
    /** {@inheritDoc DmirrorVariantInfo.breaks} */
    breaks:
      "find_vma's mmap_assert_locked reports it at the call (LockdepBug, rules), on the first schedule.",
  },
  /** Never clears the device page table at close. */
  'close-without-clear': {
    /** {@inheritDoc DmirrorVariantInfo.wrong} */
    wrong: 'release() unregisters the mirror and never clears the device page table.',
    /** {@inheritDoc DmirrorVariantInfo.breaks} */
    breaks:
      'the device still maps pages after close, and maps them freed once a CPU fault migrates them back (coherence).',
  },
  /** Clears the device page table at mm release without the update lock. */
  'release-unlocked': {
    /** {@inheritDoc DmirrorVariantInfo.wrong} */
    wrong: "the mirror's release() clears the device page table without taking the update lock.",
    /** {@inheritDoc DmirrorVariantInfo.breaks} */
    breaks:
      "the clear is not serialised with a fault's check-and-program: the rules checker reports the unlocked page-table write.",
  },
  /** Erases one page short of the invalidated range. */
  'erase-short': {
    /** {@inheritDoc DmirrorVariantInfo.wrong} */
    wrong:
      'the invalidation erases [start, end - PAGE_SIZE): the last page of every range stays in the device page table.',
    /** {@inheritDoc DmirrorVariantInfo.breaks} */
    breaks: 'after munmap or MADV_DONTNEED the device maps the last page the CPU freed (coherence).',
  },
  /** Keeps the device page table when the mm is released. */
  'release-keeps-pt': {
    /** {@inheritDoc DmirrorVariantInfo.wrong} */
    wrong: "the mirror's release() stops new faults but keeps every device entry.",
    /** {@inheritDoc DmirrorVariantInfo.breaks} */
    breaks: 'once exit_mmap has torn the address space down the device still maps its pages (coherence).',
  },
  /** Erases device page-table entries without flushing the device TLB. */
  'no-tlb-flush': {
    /** {@inheritDoc DmirrorVariantInfo.wrong} */
    wrong:
      'the invalidation callback erases the device page-table entries but does not flush the device TLB.',
    /** {@inheritDoc DmirrorVariantInfo.breaks} */
    breaks:
      'a device kernel keeps translating through a cached entry after munmap: the TLB maps a page ' +
      'the page table no longer has (coherence), and the kernel reads a freed page.',
  },
  // -- object lifetimes (the kasan checker, src/check/kasan.ts; docs/explorer.md "Object lifetimes")
  /** Leaves its device pages naming the struct dmirror it frees at close. */
  'close-keeps-owner': {
    /** {@inheritDoc DmirrorVariantInfo.wrong} */
    wrong:
      "release() kfrees the struct dmirror but leaves the device pages it still holds naming it (their drvdata, as test_hmm's rpage->zone_device_data).",
    /** {@inheritDoc DmirrorVariantInfo.breaks} */
    breaks:
      'a CPU fault on such a page after close reads the freed dmirror in the migrate-back callback (kasan: slab-use-after-free, close-vs-cpuread).',
  },
  /** Keeps the VMA pointer find_vma returned after dropping mmap_sem. */
  'vma-kept-unlocked': {
    /** {@inheritDoc DmirrorVariantInfo.wrong} */
    wrong:
      'the READ command looks the VMA up under mmap_sem, drops the lock, and checks the range against the saved vma after the copy.',
    /** {@inheritDoc DmirrorVariantInfo.breaks} */
    breaks:
      'a munmap in between frees the VMA (vm_area_free): the late check reads a freed vm_area_struct (kasan: slab-use-after-free, fault-vs-munmap).',
  },
} as const satisfies Record<string, DmirrorVariantInfo>;

/** A variant name: a key of DMIRROR_VARIANTS. */
export type DmirrorVariant = keyof typeof DMIRROR_VARIANTS;

/** Every variant, 'correct' first. */
export const DMIRROR_VARIANT_NAMES = Object.keys(DMIRROR_VARIANTS) as readonly DmirrorVariant[];

/** Whether `name` is a variant name (a type guard; checkDmirrorVariant throws instead). */
export function isDmirrorVariant(name: unknown): name is DmirrorVariant {
  return typeof name === 'string' && Object.hasOwn(DMIRROR_VARIANTS, name);
}

/** The variant named `name`; ArgumentError (listing the names) for anything else. */
export function checkDmirrorVariant(name: unknown, argument = 'variant'): DmirrorVariant {
  if (isDmirrorVariant(name)) return name;
  throw new ArgumentError(
    argument,
    `unknown dmirror variant ${typeof name === 'string' ? JSON.stringify(name) : describeValue(name)}; expected one of ${DMIRROR_VARIANT_NAMES.join(', ')}`,
  );
}
