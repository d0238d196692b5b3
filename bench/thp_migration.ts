/**
 * hmm-tests.c's benchmark_thp_migration (Linux v6.19) on today's test_hmm: run_migration_benchmark
 * with and without THP. A buffer of `pages` pages is mapped, advised MADV_HUGEPAGE (or
 * MADV_NOHUGEPAGE), written, and then each timed repetition is one HMM_DMIRROR_MIGRATE_TO_DEV and
 * one HMM_DMIRROR_MIGRATE_TO_SYS of the whole buffer, as the kernel test times them (the ioctls
 * whole, read-back included). The registry compares the two: THP ns/page over 4 KiB ns/page.
 *
 * @see tools/testing/selftests/mm/hmm-tests.c (v6.19: run_migration_benchmark, benchmark_thp_migration)
 */

import type { TestHmmDmirror } from '../src/drivers/test_hmm/dmirror.js';
import {
  MADV_HUGEPAGE,
  MADV_NOHUGEPAGE,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  PROT_READ,
  PROT_WRITE,
  Simulator,
} from '../src/index.js';
import type { SimOp } from './sim.js';
import { repeat, time } from './stats.js';

const PAGE_SIZE = 4096;

/** run_migration_benchmark(fd, use_thp, pages * PAGE_SIZE, reps): ns of each to-dev + to-sys pair. */
function migrationRoundTrip(useThp: boolean): SimOp {
  return (pages, opts) => {
    const sim = new Simulator({
      seed: 1,
      ramPages: 2 * pages + 8192,
      kernel: 'v6.19',
      devices: [{ kind: 'private', memoryPages: pages + 1024 }],
    });
    const p = sim.createProcess();
    const fd = sim.openDevice(0, p, { api: 'modern' });
    const size = pages * PAGE_SIZE;
    const a = p.mmap(size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
    p.madvise(a, size, useThp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
    // Initialize memory to make sure pages are allocated: ptr[i] = i & 0xFF.
    const ints = new Int32Array(size / 4);
    for (let i = 0; i < ints.length; i++) ints[i] = i & 0xff;
    p.write(a, new Uint8Array(ints.buffer));
    return repeat(pages, opts, () => {
      let toDev = 0;
      let toSys = 0;
      const ns = time(() => {
        toDev = fd.migrate(a, pages).cpages;
        toSys = fd.migrateToSys(a, pages).cpages;
      });
      // MIGRATE_TO_SYS counts migrated src entries, and a device THP is one entry (v6.19
      // dmirror_successful_migrated_pages): that every page came back is read off the device.
      const left = (fd.driver as TestHmmDmirror).mdevice.pagesInUse;
      if (toDev !== pages || toSys === 0 || left !== 0)
        throw new Error(
          `migration moved ${toDev} pages to the device, ${toSys} entries back, ${left} left, of ${pages}`,
        );
      return ns;
    });
  };
}

/** The two sides of benchmark-thp-migration. */
export const thpMigrationOps: Readonly<Record<string, SimOp>> = {
  'thp-migration-modern': migrationRoundTrip(true),
  'migration-modern-4k': migrationRoundTrip(false),
};
