/**
 * dmirror with one broken step, 'no-tlb-flush': the invalidation callback erases the device page
 * table entries but does not invalidate the device TLB, so a device kernel keeps translating
 * through an entry the page table no longer has.
 * The explorer must catch it (docs/explorer.md, src/drivers/dmirror/variants.ts for what breaks).
 *
 * @see lib/test_hmm.c (Linux v5.8) dmirror_do_update, Documentation/vm/hmm.rst (Linux v5.3)
 */

import { PAGE_SIZE } from '../../core/addr.js';
import { Dmirror } from '../dmirror/dmirror.js';
import type { DriverContext } from '../driver.js';

export class NoTlbFlush extends Dmirror {
  constructor(ctx: DriverContext) {
    super(ctx, 'no-tlb-flush');
  }

  /** Erases [start, end) of the device page table and leaves the TLB as it was. */
  protected override erase(start: number, end: number): void {
    this.mutex.assertHeld();
    const erased = this.erasePtEntries(Math.floor(start / PAGE_SIZE), Math.ceil(end / PAGE_SIZE));
    const device = this.mdevice.device;
    device.counters.invalidations++;
    device.counters.invalidatedPages += erased;
  }
}
