/**
 * dmirror with one broken step, 'no-write-erase': syncCpuDevicePagetables erases only read-only
 * entries and keeps writable ones.
 * The explorer must catch it (docs/explorer.md, src/drivers/dmirror/variants.ts for what breaks).
 *
 * @see lib/test_hmm.c (Linux v5.8), Documentation/vm/hmm.rst (Linux v5.3)
 */

import { Dmirror } from '../dmirror/dmirror.js';
import type { DriverContext } from '../driver.js';

export class NoWriteErase extends Dmirror {
  constructor(ctx: DriverContext) {
    super(ctx, 'no-write-erase');
  }

  /** Erases only the read-only entries of [first, last) and keeps the writable ones. */
  protected override erasePtEntries(first: number, last: number): number {
    let n = 0;
    for (const m of this.pt.mappings())
      if (m.vpn >= first && m.vpn < last && !m.write && this.pt.erase(m.vpn)) n++;
    return n;
  }
}
