/**
 * The benchmark registry. A benchmark pairs one simulator operation (bench/sim.ts) with one native
 * baseline (bench/native/baseline.c) and a target ratio simNsPerPage / nativeNsPerPage.
 *
 * To add a benchmark (e.g. migrate_vma against memcpy, hmm_range_fault against mincore): add the sim
 * operation to `simOps` in bench/sim.ts, the native operation to `ops[]` in bench/native/baseline.c if it
 * is new, and one `registerBenchmark()` entry below. Several benchmarks may share a sim operation: it is
 * measured once per page count and compared against each baseline.
 */

export interface BenchmarkSpec {
  /** Stable name, used by `--filter` and in the JSON results. */
  name: string;
  /** Key of the simulator operation in `simOps` (bench/sim.ts). */
  sim: string;
  /** Name of the native operation in bench/native/baseline.c, or null for a sim-only benchmark. */
  native: string | null;
  /** What the native side measures, for the table and docs. */
  baseline: string;
  /**
   * 'time' (default): ratio = simNsPerPage / nativeNsPerPage, lower is better, target `maxRatio`.
   * 'bandwidth': both sides move `bytesPerPage` bytes per page; ratio = sim bandwidth / native
   * bandwidth (= nativeNsPerPage / simNsPerPage), higher is better, target `minRatio`.
   */
  metric?: 'time' | 'bandwidth';
  /** 'time': simNsPerPage must be at most `maxRatio` times nativeNsPerPage. */
  maxRatio?: number;
  /** 'bandwidth': the simulator's bandwidth must be at least `minRatio` times the native one (none: report only). */
  minRatio?: number;
  /** 'bandwidth': bytes each side moves per page. */
  bytesPerPage?: number;
  /** Page counts to run at; default `DEFAULT_PAGES`. */
  pages?: readonly number[];
  /**
   * A sim-only benchmark (native null) compared with another simulator operation instead of a
   * native one: ratio = simNsPerPage / that operation's simNsPerPage, target `maxRatio`.
   */
  simBaseline?: string;
  /**
   * A sim-only benchmark (native null) held to a wall-clock budget instead of a baseline: ratio =
   * simNsPerPage / budgetNsPerPage, target 1 (bench/budgets.ts; `pages` counts its units).
   */
  budgetNsPerPage?: number;
}

/** The benchmark's target as the results report it: the ratio bound, and which way it points. */
export function targetOf(b: BenchmarkSpec): { ratio: number | null; kind: '<=' | '>=' } {
  if (b.budgetNsPerPage !== undefined) return { ratio: 1, kind: '<=' };
  return b.metric === 'bandwidth'
    ? { ratio: b.minRatio ?? null, kind: '>=' }
    : { ratio: b.maxRatio ?? null, kind: '<=' };
}

export const DEFAULT_PAGES: readonly number[] = [2 ** 14, 2 ** 18];
/** The HMM benchmarks' page counts (each page of a migration is copied twice). */
export const HMM_PAGES: readonly number[] = [2 ** 14, 2 ** 16, 2 ** 18];

const registry: BenchmarkSpec[] = [];

export function registerBenchmark(spec: BenchmarkSpec): void {
  if (registry.some((b) => b.name === spec.name)) throw new Error(`benchmark ${spec.name} registered twice`);
  registry.push(spec);
}

export function benchmarks(): readonly BenchmarkSpec[] {
  return registry;
}

registerBenchmark({
  name: 'fault-in-write',
  sim: 'populate-write',
  native: 'populate-write',
  baseline: 'madvise(MADV_POPULATE_WRITE)',
  maxRatio: 0.5,
});
registerBenchmark({
  name: 'fault-in-write-thp',
  sim: 'populate-write-thp',
  native: 'populate-write-thp',
  baseline: 'madvise(MADV_POPULATE_WRITE) on a 2 MiB-aligned MADV_HUGEPAGE mapping',
  maxRatio: 0.5,
});
registerBenchmark({
  name: 'walk-vs-pagemap',
  sim: 'walk',
  native: 'pagemap',
  baseline: 'pread(/proc/self/pagemap)',
  maxRatio: 1,
});
registerBenchmark({
  name: 'walk-vs-mincore',
  sim: 'walk-ptes',
  native: 'mincore',
  baseline: 'mincore()',
  maxRatio: 3,
});
registerBenchmark({
  name: 'mprotect',
  sim: 'mprotect',
  native: 'mprotect',
  baseline: 'mprotect(PROT_READ)',
  maxRatio: 1,
});
registerBenchmark({
  name: 'munmap',
  sim: 'munmap',
  native: 'munmap',
  baseline: 'munmap()',
  maxRatio: 1,
});
registerBenchmark({
  name: 'mremap',
  sim: 'mremap',
  native: 'mremap',
  baseline: 'mremap(MREMAP_MAYMOVE|MREMAP_FIXED), PTE by PTE',
  maxRatio: 1,
});

// -- HMM ------------------------------------------------------------------------------------------

for (const batch of [1, 64, 512]) {
  registerBenchmark({
    name: `migrate-to-device-and-back-b${batch}`,
    sim: `migrate-b${batch}`,
    native: 'memcpy-scattered',
    baseline: 'memcpy of the 4 KiB pages to shuffled pages and back',
    metric: 'bandwidth',
    bytesPerPage: 2 * 4096,
    // The target is set for 512-page batches (goal 0.5x); smaller batches are reported only.
    ...(batch === 512 ? { minRatio: 0.3 } : {}),
    pages: HMM_PAGES,
  });
}
registerBenchmark({
  name: 'migrate-vma-modern-to-device-and-back',
  sim: 'migrate-vma-modern',
  native: 'memcpy-scattered',
  baseline:
    'memcpy of the 4 KiB pages to shuffled pages and back; migrate_vma_setup/pages/finalize (v6.19), 512 pages a call',
  metric: 'bandwidth',
  bytesPerPage: 2 * 4096,
  // The seed API's target at 512 pages per batch (migrate-to-device-and-back-b512).
  minRatio: 0.3,
  pages: HMM_PAGES,
});
registerBenchmark({
  name: 'hmm-range-fault-populated',
  sim: 'hmm-range-fault',
  native: 'populate-read',
  baseline: 'madvise(MADV_POPULATE_READ) on resident pages',
  maxRatio: 2,
  pages: HMM_PAGES,
});
registerBenchmark({
  name: 'hmm-range-fault-modern-populated',
  sim: 'hmm-range-fault-modern',
  native: 'populate-read',
  baseline: 'madvise(MADV_POPULATE_READ) on resident pages; hmm.modern.hmmRangeFault (v6.19) with REQ_FAULT',
  maxRatio: 2,
  pages: HMM_PAGES,
});
registerBenchmark({
  name: 'hmm-range-snapshot',
  sim: 'hmm-range-snapshot',
  native: 'pagemap',
  baseline: 'pread(/proc/self/pagemap)',
  maxRatio: 2,
  pages: HMM_PAGES,
});
registerBenchmark({
  name: 'invalidate-munmap-mirrored',
  sim: 'invalidate-munmap',
  native: 'munmap',
  baseline: 'munmap()',
  maxRatio: 3,
  pages: HMM_PAGES,
});
registerBenchmark({
  name: 'invalidate-mprotect-mirrored',
  sim: 'invalidate-mprotect',
  native: 'mprotect',
  baseline: 'mprotect(PROT_READ)',
  maxRatio: 3,
  pages: HMM_PAGES,
});

registerBenchmark({
  name: 'device-fault-in',
  sim: 'device-fault-in',
  native: 'touch-write',
  baseline: 'one store per page to missing pages: N first-touch CPU page faults',
  maxRatio: 1,
  pages: [2 ** 14, 2 ** 16],
});

// -- Budgets: timings once asserted in unit tests, now measured here (bench/budgets.ts) --------------

registerBenchmark({
  name: 'report-render-1e6-events',
  sim: 'report-render',
  native: null,
  baseline: 'budget: renderReport of 10^6 timeline events in 1,000 ms (was test/report/report.test.ts)',
  budgetNsPerPage: 1000,
  pages: [1_000_000],
});
registerBenchmark({
  name: 'sched-1e6-yields',
  sim: 'sched-yields',
  native: null,
  baseline: 'budget: 10^6 yields of one thread in 1,500 ms (was test/sched/perf.test.ts)',
  budgetNsPerPage: 1500,
  pages: [1_000_000],
});
for (const strategy of ['random', 'dfs']) {
  registerBenchmark({
    name: `explore-${strategy}-schedules`,
    sim: `explore-${strategy}`,
    native: null,
    baseline: `budget: 1,000 schedules/s of a ~330-step locking scenario (was test/sched/perf.test.ts)`,
    budgetNsPerPage: 1e6,
    pages: [3000],
  });
}
registerBenchmark({
  name: 'explore-fault-vs-munmap',
  sim: 'explore-fault-vs-munmap',
  native: null,
  baseline:
    'budget: 200 random schedules/s of fault-vs-munmap, checkers on (was test/explore/explore.test.ts)',
  budgetNsPerPage: 5e6,
  pages: [5000],
});

// -- hmm-tests.c's benchmark_thp_migration --------------------------------------------------------

registerBenchmark({
  name: 'benchmark-thp-migration',
  sim: 'thp-migration-modern',
  native: null,
  simBaseline: 'migration-modern-4k',
  baseline: "the same MIGRATE_TO_DEV + MIGRATE_TO_SYS of a MADV_NOHUGEPAGE buffer (today's test_hmm)",
  // Device-private THP moves each 2 MiB as one folio (one COMPOUND entry, one device-private
  // PMD) against 512 entries and PTEs. Measured in one run on the shared 2-core box (reps 5,
  // warmup 2, other agents' suites running): 0.51x at 512 pages, 2.02x at 4096; an earlier run
  // 2.23x and 4.68x — the noise of the load, not the path (a direct timing of the two ioctls
  // had THP at or below 4 KiB). Target: the THP path no worse than 3x the 4 KiB one.
  maxRatio: 3,
  // the kernel test's sizes: a quarter THP, one THP, eight, and 128 THPs
  pages: [128, 512, 4096, 65536],
});
