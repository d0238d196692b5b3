/**
 * benchmark_thp_migration of hmm-tests.c (Linux v6.19): run_migration_benchmark with and without
 * THP at seven buffer sizes, a quarter THP to 128 THPs (256 MiB), each a warm-up MIGRATE_TO_DEV and
 * MIGRATE_TO_SYS and then five timed pairs. The kernel test asserts only that every run returns 0
 * (mmap, madvise and every migration succeed) and prints the times.
 *
 * get_time_ms() reads the simulated clock of the fixture's device (src/device/cost.ts), so the
 * printed times are the cost model's and the same on every run, where the kernel's are the wall
 * clock's. That clock charges a migration's DMA (by physically contiguous run) and migrate_vma's
 * bookkeeping per page (docs/costs.md), not the CPU's per-folio work that THP saves on hardware, so
 * its "With THP" and "Without THP" columns come out equal. bench/'s `benchmark-thp-migration`
 * times the same ioctls on the host's clock, where device THP's fewer entries do show.
 *
 * Under hmm_device_coherent the kernel itself WARNs on the second MIGRATE_TO_DEV of a THP-sized
 * buffer: migrate_vma_collect_huge_pmd skips a present huge PMD unless MIGRATE_VMA_SELECT_SYSTEM is
 * set, and MIGRATE_TO_SYS on a coherent device selects only MIGRATE_VMA_SELECT_DEVICE_COHERENT, so
 * the device-coherent THP that remove_migration_pmd mapped with a present PMD stays on the device;
 * the next MIGRATE_TO_DEV (SELECT_SYSTEM) collects it, and dmirror_migrate_alloc_and_copy WARNs
 * "page already in device" and skips it. The kernel test passes with the splat in dmesg; hmmsim
 * stops at the WARN, so that variant is an XFAIL.
 *
 * @see tools/testing/selftests/mm/hmm-tests.c (v6.19: run_migration_benchmark,
 *      print_benchmark_results, TEST_F_TIMEOUT(hmm, benchmark_thp_migration, 120))
 */

import { MADV_HUGEPAGE, MADV_NOHUGEPAGE } from '../mm/madvise.js';
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../mm/mmap.js';
import type { Selftest, SelftestContext } from './harness.js';
import { ASSERT_EQ } from './harness.js';
import {
  type HmmBuffer,
  hmm_migrate_dev_to_sys,
  hmm_migrate_sys_to_dev,
  hmmBuffer,
  hmmBufferFree,
  INT,
  MAP_FAILED,
  madvise,
  mmap,
  readPmdPagesize,
  TWOMEG,
  writeInts,
} from './hmm_helpers.js';

/** INT_MAX: the kernel test stops at a size above it (none of its sizes is, with 2 MiB THPs). */
const INT_MAX = 2 ** 31 - 1;
const GIB = 1024 * 1024 * 1024;
const MIB = 1024 * 1024;

/** struct benchmark_results: average ms of one migration each way, and GB/s. */
export interface BenchmarkResults {
  sysToDevTime: number;
  devToSysTime: number;
  throughputS2d: number;
  throughputD2s: number;
}

/** get_time_ms(): the fixture's device clock, in ms. */
function getTimeMs(ctx: SelftestContext): number {
  const device = ctx.variant?.devices[0] ?? 0;
  return ctx.sim.deviceClockUs(device) / 1000;
}

/** hmm_buffer_alloc(size): the mirror filled with 0xFF. */
function hmmBufferAlloc(size: number): HmmBuffer {
  const buffer = hmmBuffer(size);
  buffer.mirror.fill(0xff);
  return buffer;
}

/**
 * run_migration_benchmark(fd, use_thp, buffer_size, iterations, results): 0, or the first failing
 * call's return value, as the kernel's returns it (leaving the buffer mapped, as it does).
 */
export function runMigrationBenchmark(
  ctx: SelftestContext,
  useThp: boolean,
  bufferSize: number,
  iterations: number,
  results: BenchmarkResults,
): number {
  const npages = bufferSize / ctx.pageSize;
  const buffer = hmmBufferAlloc(bufferSize);
  buffer.ptr = mmap(ctx.proc, bufferSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
  if (buffer.ptr === MAP_FAILED) return -1;
  let ret = madvise(ctx.proc, buffer.ptr, bufferSize, useThp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
  if (ret) return ret;
  // Initialize memory to make sure pages are allocated
  writeInts(ctx.proc, buffer.ptr, 0, bufferSize / INT, (i) => i & 0xff);
  // Warmup iteration
  ret = hmm_migrate_sys_to_dev(ctx.fd, buffer, npages);
  if (ret) return ret;
  ret = hmm_migrate_dev_to_sys(ctx.fd, buffer, npages);
  if (ret) return ret;
  let s2dTotal = 0;
  let d2sTotal = 0;
  for (let i = 0; i < iterations; i++) {
    let start = getTimeMs(ctx);
    ret = hmm_migrate_sys_to_dev(ctx.fd, buffer, npages);
    if (ret) return ret;
    s2dTotal += getTimeMs(ctx) - start;
    start = getTimeMs(ctx);
    ret = hmm_migrate_dev_to_sys(ctx.fd, buffer, npages);
    if (ret) return ret;
    d2sTotal += getTimeMs(ctx) - start;
  }
  results.sysToDevTime = s2dTotal / iterations;
  results.devToSysTime = d2sTotal / iterations;
  results.throughputS2d = bufferSize / GIB / (results.sysToDevTime / 1000);
  results.throughputD2s = bufferSize / GIB / (results.devToSysTime / 1000);
  hmmBufferFree(ctx.proc, buffer);
  return 0;
}

/** print_benchmark_results: the kernel's table, in its printf formats. */
export function printBenchmarkResults(
  ctx: SelftestContext,
  testName: string,
  bufferSize: number,
  thp: BenchmarkResults,
  regular: BenchmarkResults,
): void {
  const faster = (regularTime: number, thpTime: number): number =>
    ((regularTime - thpTime) / regularTime) * 100;
  const higher = (thpRate: number, regularRate: number): number =>
    ((thpRate - regularRate) / regularRate) * 100;
  // "%-21s| <a><gap>| <b><gap>| %.1f%%": the gap is 8 spaces after ms, 6 after GB/s, as the C formats
  const row = (label: string, a: string, b: string, pct: number): string => {
    const gap = a.endsWith('ms') ? '        ' : '      ';
    return `${label.padEnd(21)}| ${a}${gap}| ${b}${gap}| ${pct.toFixed(1)}%\n`;
  };
  ctx.printf(`\n=== ${testName} (${(bufferSize / MIB).toFixed(1)} MB) ===\n`);
  ctx.printf('                     | With THP        | Without THP     | Improvement\n');
  ctx.printf('---------------------------------------------------------------------\n');
  const ms = (x: number): string => `${x.toFixed(3)} ms`;
  const gbs = (x: number): string => `${x.toFixed(2)} GB/s`;
  ctx.printf(
    row(
      'Sys->Dev Migration',
      ms(thp.sysToDevTime),
      ms(regular.sysToDevTime),
      faster(regular.sysToDevTime, thp.sysToDevTime),
    ),
  );
  ctx.printf(
    row(
      'Dev->Sys Migration',
      ms(thp.devToSysTime),
      ms(regular.devToSysTime),
      faster(regular.devToSysTime, thp.devToSysTime),
    ),
  );
  ctx.printf(
    row(
      'S->D Throughput',
      gbs(thp.throughputS2d),
      gbs(regular.throughputS2d),
      higher(thp.throughputS2d, regular.throughputS2d),
    ),
  );
  ctx.printf(
    row(
      'D->S Throughput',
      gbs(thp.throughputD2s),
      gbs(regular.throughputD2s),
      higher(thp.throughputD2s, regular.throughputD2s),
    ),
  );
}

/** The sizes and names of the kernel test's table. */
export function benchmarkSizes(thpSize: number): { size: number; name: string }[] {
  return [
    { size: thpSize / 4, name: 'Small Buffer' },
    { size: thpSize / 2, name: 'Half THP Size' },
    { size: thpSize, name: 'Single THP Size' },
    { size: thpSize * 2, name: 'Two THP Size' },
    { size: thpSize * 4, name: 'Four THP Size' },
    { size: thpSize * 8, name: 'Eight THP Size' },
    { size: thpSize * 128, name: 'One twenty eight THP Size' },
  ];
}

function emptyResults(): BenchmarkResults {
  return { sysToDevTime: 0, devToSysTime: 0, throughputS2d: 0, throughputD2s: 0 };
}

export const benchmarkThpMigration: Selftest = {
  name: 'benchmark_thp_migration',
  fixture: 'hmm',
  since: '6.19',
  seed: 'n/a',
  seedCannot:
    'device-private THP migration (MIGRATE_PFN_COMPOUND, PMD device-private entries) is v6.19; HMM_DMIRROR_MIGRATE_TO_SYS is v6.1',
  note: "times are the simulated device clock's (docs/costs.md), not the wall clock's; the machine has 512 MiB of RAM for the 256 MiB buffer, and each device two 256 MiB chunks of memory (test_hmm adds chunks on demand)",
  ramPages: 131_072,
  // Two chunks: the 4 KiB runs break folios into pages, where test_hmm would add a chunk of its own.
  deviceMemoryPages: 131_072,
  xfail: {
    variant: 'hmm_device_coherent',
    warning: 'test_hmm: page already in device',
    reason:
      'v6.19 WARNs here and goes on: MIGRATE_TO_SYS (SELECT_DEVICE_COHERENT) skips the coherent THP the CPU maps with a PMD, so the next MIGRATE_TO_DEV collects a device page (docs/fidelity.md)',
  },
  run(ctx) {
    const thpSize = readPmdPagesize() || TWOMEG;
    const iterations = 5;
    ctx.printf('\nHMM THP Migration Benchmark\n');
    ctx.printf('---------------------------\n');
    ctx.printf(`System page size: ${ctx.pageSize} bytes\n`);
    for (const { size, name } of benchmarkSizes(thpSize)) {
      if (size > INT_MAX) break;
      const thpResults = emptyResults();
      const regularResults = emptyResults();
      ASSERT_EQ(
        runMigrationBenchmark(ctx, true, size, iterations, thpResults),
        0,
        'run_migration_benchmark(self->fd, 1, test_sizes[i], iterations, &thp_results)',
      );
      ASSERT_EQ(
        runMigrationBenchmark(ctx, false, size, iterations, regularResults),
        0,
        'run_migration_benchmark(self->fd, 0, test_sizes[i], iterations, &regular_results)',
      );
      printBenchmarkResults(ctx, name, size, thpResults, regularResults);
    }
  },
};
