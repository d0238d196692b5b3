/**
 * The broken modern-API drivers the explorer must catch: each is today's test_hmm with ONE step
 * overridden (one file each), registered under `test_hmm.<name>`. What each gets wrong and what
 * breaks, as a checker sees it, is catalogued here; src/drivers/dmirror_broken/ is the seed API's
 * catalogue in the same form.
 */

import type { ModernDriverFactory } from '../driver.js';
import { CloseNoEvict } from './close_no_evict.js';
import { EbusyFatal } from './ebusy_fatal.js';
import { EraseHeadOnly } from './erase_head_only.js';
import { ExclusiveKeepLocked } from './exclusive_keep_locked.js';
import { ExclusiveUnlockEarly } from './exclusive_unlock_early.js';
import { FreeBeforeEvict } from './free_before_evict.js';
import { IgnoreEbusy } from './ignore_ebusy.js';
import { KeepMigratedEntries } from './keep_migrated_entries.js';
import { NoSetSeq } from './no_set_seq.js';
import { ProgramAfterUnlock } from './program_after_unlock.js';
import { SkipForeignMigrate } from './skip_foreign_migrate.js';
import { SleepNonblockable } from './sleep_nonblockable.js';
import { UnlockedReadRetry } from './unlocked_read_retry.js';

/** One broken modern driver: its factory, the deviation and what breaks. */
export interface TestHmmVariantInfo {
  /** One line: the deviation from today's test_hmm. */
  readonly wrong: string;
  /** One line: what breaks, as a checker sees it. */
  readonly breaks: string;
  /** Opens one instance. */
  readonly factory: ModernDriverFactory;
}

/** Every broken modern driver, by its registry name. */
export const TEST_HMM_BROKEN: Readonly<Record<string, TestHmmVariantInfo>> = {
  'test_hmm.no-set-seq': {
    wrong: 'the interval invalidate erases the device page table but never calls mmu_interval_set_seq.',
    breaks:
      'read_retry cannot see an invalidation that ran between hmm_range_fault and the mutex: the walk’s ' +
      'stale pfns are programmed, and the device maps a page the CPU unmapped.',
    factory: (ctx) => new NoSetSeq(ctx),
  },
  'test_hmm.unlocked-read-retry': {
    wrong: 'checks mmu_interval_read_retry before taking dmirror->mutex, then takes it to program.',
    breaks:
      'an invalidation that runs between the check and the lock erases the range first: the stale pfns ' +
      'are programmed after it, and the device maps a page the CPU unmapped.',
    factory: (ctx) => new UnlockedReadRetry(ctx),
  },
  'test_hmm.program-after-unlock': {
    wrong: 'checks read_retry under dmirror->mutex, but unlocks before programming the device page table.',
    breaks:
      'the device page table is written without the lock the invalidate callback takes (the rules ' +
      'checker reports the store), and an invalidation in between is undone by the late store.',
    factory: (ctx) => new ProgramAfterUnlock(ctx),
  },
  'test_hmm.ignore-ebusy': {
    wrong: 'takes -EBUSY from hmm_range_fault for success and goes on to lock, check read_retry and program.',
    breaks:
      'nothing a checker sees: -EBUSY means the sequence count moved, so the read_retry under the mutex ' +
      'fails too and the driver walks again (the sequence count makes the seed API’s ignore-ebusy bug benign).',
    factory: (ctx) => new IgnoreEbusy(ctx),
  },
  'test_hmm.sleep-nonblockable': {
    wrong: 'the interval invalidate takes dmirror->mutex with a sleeping mutex_lock even when !blockable.',
    breaks:
      'the OOM reaper’s non-blockable invalidation sleeps: "BUG: sleeping function called from invalid ' +
      'context" (it must trylock and return false).',
    factory: (ctx) => new SleepNonblockable(ctx),
  },
  'test_hmm.exclusive-unlock-early': {
    wrong:
      'EXCLUSIVE unlocks and puts the page make_device_exclusive returned before storing its ATOMIC entry.',
    breaks:
      'a CPU access in between restores the PTE (its invalidation finds nothing to erase), then the ATOMIC ' +
      'entry is stored: the device holds atomics on a page the CPU maps, and CHECK_EXCLUSIVE says EPERM.',
    factory: (ctx) => new ExclusiveUnlockEarly(ctx),
  },
  'test_hmm.keep-migrated-entries': {
    wrong:
      'skips its own MMU_NOTIFY_MIGRATE invalidations but does not erase its entries of the pages it ' +
      'moves back to system memory.',
    breaks:
      'after a CPU fault (or MIGRATE_TO_SYS) moves a device page back, the device page table still maps ' +
      'the device page, which is freed: the device reads a free page, not the CPU’s data.',
    factory: (ctx) => new KeepMigratedEntries(ctx),
  },
  'test_hmm.erase-head-only': {
    wrong:
      'erases one device entry per migrate entry when pages move back to system memory, as a 4 KiB ' +
      'driver does: a THP that moves back whole (one COMPOUND entry) loses only its head’s entry.',
    breaks:
      'after a CPU fault moves a device THP back, the device page table still maps its 511 tail ' +
      'pages, which are freed: the device reads free pages (coherence, thp-migrate-vs-munmap-half).',
    factory: (ctx) => new EraseHeadOnly(ctx),
  },
  'test_hmm.skip-foreign-migrate': {
    wrong:
      'skips every MMU_NOTIFY_MIGRATE invalidation, not only those whose owner is its own device ' +
      '(follows 7d17e83abec1, "mm/hmm/test: use the new migration invalidation").',
    breaks:
      'another device migrating the pages this one maps leaves its entries in place: the device maps ' +
      'the system pages the migration freed.',
    factory: (ctx) => new SkipForeignMigrate(ctx),
  },
  'test_hmm.ebusy-fatal': {
    wrong:
      'fails the device access when hmm_range_fault returns -EBUSY instead of walking again ' +
      '(follows "drm/amdkfd: retry after EBUSY is returned from hmm_ranges_get_pages").',
    breaks:
      'a device read racing any invalidation of its range fails although the pages stay mapped ' +
      '(the scenario check, integrity).',
    factory: (ctx) => new EbusyFatal(ctx),
  },
  'test_hmm.exclusive-keep-locked': {
    wrong:
      'EXCLUSIVE never unlocks or puts the folio make_device_exclusive returned (follows ' +
      'b3fefbb30a16, "nouveau/svm: fix missing folio unlock + put after make_device_exclusive_range()").',
    breaks:
      'the page stays locked: a CPU fault on it sleeps on the page lock for ever, and the page keeps ' +
      'an extra reference.',
    factory: (ctx) => new ExclusiveKeepLocked(ctx),
  },
  'test_hmm.free-before-evict': {
    wrong:
      'HMM_DMIRROR_RELEASE lets the chunks’ memory go before evicting the pages still in use ' +
      '(follows 249881232e14, "nouveau/dmem: evict device private memory during release").',
    breaks:
      'the eviction, or a CPU fault racing the removal, copies the released memory back to system ' +
      'memory instead of the data: the CPU reads zeros where it wrote (integrity).',
    factory: (ctx) => new FreeBeforeEvict(ctx),
  },
  // object lifetimes: the kasan checker (src/check/kasan.ts)
  'test_hmm.close-no-evict': {
    wrong:
      'release kfrees the dmirror without evicting the device pages first (lib/test_hmm.c before commit 744dd97752ef).',
    breaks:
      'a CPU fault on a page left in device memory reads the freed dmirror through zone_device_data (kasan: slab-use-after-free, close-vs-cpuread).',
    factory: (ctx) => new CloseNoEvict(ctx),
  },
};

export {
  CloseNoEvict,
  EbusyFatal,
  EraseHeadOnly,
  ExclusiveKeepLocked,
  ExclusiveUnlockEarly,
  FreeBeforeEvict,
  IgnoreEbusy,
  KeepMigratedEntries,
  NoSetSeq,
  ProgramAfterUnlock,
  SkipForeignMigrate,
  SleepNonblockable,
  UnlockedReadRetry,
};
