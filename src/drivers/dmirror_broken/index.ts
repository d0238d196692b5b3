/**
 * The broken drivers the explorer must catch: each is dmirror with ONE step overridden (one file
 * each). What each gets wrong and what breaks is catalogued in src/drivers/dmirror/variants.ts;
 * the registry (../registry.ts) offers them by those names.
 */

import type { DmirrorVariant } from '../dmirror/variants.js';
import type { DriverFactory } from '../driver.js';
import { CloseKeepsOwner } from './close_keeps_owner.js';
import { CloseUnregisterFirst } from './close_unregister_first.js';
import { CloseWithoutClear } from './close_without_clear.js';
import { EbusyFatal } from './ebusy_fatal.js';
import { EraseShort } from './erase_short.js';
import { FreeMappedPage } from './free_mapped_page.js';
import { IgnoreEbusy } from './ignore_ebusy.js';
import { MapAfterUnregister } from './map_after_unregister.js';
import { NoLockInSync } from './no_lock_in_sync.js';
import { NoTlbFlush } from './no_tlb_flush.js';
import { NoValidCheck } from './no_valid_check.js';
import { NoWriteErase } from './no_write_erase.js';
import { ReleaseKeepsPt } from './release_keeps_pt.js';
import { ReleaseUnlocked } from './release_unlocked.js';
import { SleepNonblockable } from './sleep_nonblockable.js';
import { UnlockTwiceOnRetry } from './unlock_twice_on_retry.js';
import { UnlockedValidCheck } from './unlocked_valid_check.js';
import { VmaKeptUnlocked } from './vma_kept_unlocked.js';
import { VmaLookupUnlocked } from './vma_lookup_unlocked.js';

/** Every broken variant's factory, by its name. */
export const DMIRROR_BROKEN: Readonly<Record<Exclude<DmirrorVariant, 'correct'>, DriverFactory>> = {
  'no-valid-check': (ctx) => new NoValidCheck(ctx),
  'unlocked-valid-check': (ctx) => new UnlockedValidCheck(ctx),
  'no-lock-in-sync': (ctx) => new NoLockInSync(ctx),
  'sleep-nonblockable': (ctx) => new SleepNonblockable(ctx),
  'map-after-unregister': (ctx) => new MapAfterUnregister(ctx),
  'ignore-ebusy': (ctx) => new IgnoreEbusy(ctx),
  'no-write-erase': (ctx) => new NoWriteErase(ctx),
  'free-mapped-page': (ctx) => new FreeMappedPage(ctx),
  'close-unregister-first': (ctx) => new CloseUnregisterFirst(ctx),
  'unlock-twice-on-retry': (ctx) => new UnlockTwiceOnRetry(ctx),
  'ebusy-fatal': (ctx) => new EbusyFatal(ctx),
  'vma-lookup-unlocked': (ctx) => new VmaLookupUnlocked(ctx),
  'close-without-clear': (ctx) => new CloseWithoutClear(ctx),
  'release-unlocked': (ctx) => new ReleaseUnlocked(ctx),
  'erase-short': (ctx) => new EraseShort(ctx),
  'release-keeps-pt': (ctx) => new ReleaseKeepsPt(ctx),
  'no-tlb-flush': (ctx) => new NoTlbFlush(ctx),
  'close-keeps-owner': (ctx) => new CloseKeepsOwner(ctx),
  'vma-kept-unlocked': (ctx) => new VmaKeptUnlocked(ctx),
};

export {
  CloseKeepsOwner,
  CloseUnregisterFirst,
  CloseWithoutClear,
  EbusyFatal,
  EraseShort,
  FreeMappedPage,
  IgnoreEbusy,
  MapAfterUnregister,
  NoLockInSync,
  NoTlbFlush,
  NoValidCheck,
  NoWriteErase,
  ReleaseKeepsPt,
  ReleaseUnlocked,
  SleepNonblockable,
  UnlockedValidCheck,
  UnlockTwiceOnRetry,
  VmaKeptUnlocked,
  VmaLookupUnlocked,
};
