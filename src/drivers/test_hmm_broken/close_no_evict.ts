/**
 * today's test_hmm with one broken step, 'test_hmm.close-no-evict': dmirror_fops_release kfrees
 * the dmirror without evicting the device's pages first, as lib/test_hmm.c did until commit
 * 744dd97752ef ("lib: test_hmm: evict device pages on file close to avoid use-after-free"; Fixes:
 * b2ef9f5a5cb3, the driver's first version). A page left in device memory keeps the freed dmirror
 * as its backing page's zone_device_data, and dmirror_devmem_fault of a later CPU fault reads it.
 *
 * @see lib/test_hmm.c (Linux v6.19: dmirror_fops_release, dmirror_devmem_fault)
 */

import type { Task } from '../../sched/index.js';
import { TestHmmDmirror } from '../test_hmm/dmirror.js';

export class CloseNoEvict extends TestHmmDmirror {
  /** Leaves every device page where it is, naming this dmirror. */
  protected override *evictDevicePages(): Task {
    yield 'dmirror: no eviction at release';
  }
}
