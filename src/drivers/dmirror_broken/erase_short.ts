/**
 * dmirror with one broken step, 'erase-short': the invalidation erases [start, end - PAGE_SIZE),
 * an inclusive end treated as exclusive, so the last page of every range stays mapped.
 * The explorer must catch it (docs/explorer.md, src/drivers/dmirror/variants.ts for what breaks).
 *
 * Follows: amdgpu's userptr notifier, whose range end changed from inclusive (end - 1) to
 * exclusive with the mmu_notifier_range conversion ("mm/mmu_notifier: use structure for
 * invalidate_range_start/end callback", Jérôme Glisse, ac46d4f3c432, v5.0; hash from memory, not checked against a stored tree) — the kind of
 * off-by-one a driver converting between the two makes.
 */

import { Dmirror } from '../dmirror/dmirror.js';
import type { DriverContext } from '../driver.js';

export class EraseShort extends Dmirror {
  constructor(ctx: DriverContext) {
    super(ctx, 'erase-short');
  }

  /** Leaves the last page of the range in the device page table. */
  protected override erasePtEntries(first: number, last: number): number {
    return super.erasePtEntries(first, last - 1);
  }
}
