/**
 * dmirror with one broken step, 'close-keeps-owner': release() kfrees the struct dmirror but leaves
 * the device pages it still holds naming it, so the migrate-back callback of a later CPU fault on
 * one of them reads the freed struct.
 * The explorer's kasan checker must catch it (docs/explorer.md, src/drivers/dmirror/variants.ts).
 *
 * Follows: lib/test_hmm.c itself (v6.19): dmirror_fops_release kfrees the dmirror, and
 * dmirror_devmem_fault later takes `dmirror = rpage->zone_device_data` for a page the closed file
 * left in device memory (issue 16: "a device file closed while its pages still sit in device memory,
 * and a later CPU fault touching freed driver state"). No kernel fix of it has been seen.
 */

import { Dmirror } from '../dmirror/dmirror.js';
import type { DriverContext } from '../driver.js';

export class CloseKeepsOwner extends Dmirror {
  constructor(ctx: DriverContext) {
    super(ctx, 'close-keeps-owner');
  }

  /** Leaves every page it owns naming it after the kfree. */
  protected override dropDevicePages(): void {}
}
