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
  /** The target: simNsPerPage must be at most `maxRatio` times nativeNsPerPage. */
  maxRatio: number;
  /** Page counts to run at; default `DEFAULT_PAGES`. */
  pages?: readonly number[];
}

export const DEFAULT_PAGES: readonly number[] = [2 ** 14, 2 ** 18];

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
  name: 'walk-vs-pagemap',
  sim: 'walk',
  native: 'pagemap',
  baseline: 'pread(/proc/self/pagemap)',
  maxRatio: 1,
});
registerBenchmark({
  name: 'walk-vs-mincore',
  sim: 'walk',
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
