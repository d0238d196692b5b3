/**
 * What a sweep runs: a workload (a generator or a trace), a footprint, oversubscription levels and
 * policies; its configurations in a fixed order (policy-major, then oversubscription), and the
 * deterministic slice `--shard i/n` takes of them.
 */

import { PAGE_SIZE } from '../core/addr.js';
import { crc32Hex } from '../core/crc32.js';
import { ArgumentError, describeValue } from '../core/errno.js';
import { checkShard } from '../core/shard.js';
import { costProfile } from '../device/cost.js';
import { parsePolicy } from '../policy/policy.js';
import type { SweepSettings } from '../schema/sweep.js';
import { makeWorkload, WORKLOAD_ITERATIONS_MAX, type Workload } from '../workload/patterns/index.js';
import { parseTrace } from '../workload/trace/format.js';
import { parseNvbitTrace } from '../workload/trace/nvbit.js';
import { traceWorkload } from '../workload/trace/replay.js';

/** A trace to replay instead of a generator. */
export interface SweepTrace {
  /** Its name in the record (the file's base name). */
  readonly name: string;
  /** 'hmmsim' (docs/policies.md, "Traces") or 'nvbit' (mem_trace output). */
  readonly format: 'hmmsim' | 'nvbit';
  /** The trace's text. */
  readonly text: string;
}

/** A sweep: see the file comment; `SWEEP_DEFAULTS` fills what is left out. */
export interface SweepSpec {
  /** A generator's name (src/workload/patterns); ignored when `trace` is set. */
  readonly workload?: string;
  /** A trace to replay (its pages make the footprint). */
  readonly trace?: SweepTrace;
  /** Bytes of shared memory the generator's arrays fill. */
  readonly footprint?: number;
  /** Footprint / device memory levels (each > 0). */
  readonly oversubscription?: readonly number[];
  /** Policy names, as `parsePolicy` takes them. */
  readonly policies?: readonly string[];
  /** Cost profile name. */
  readonly costProfile?: string;
  /** HMM API generation: 'seed' (default) or 'modern'. */
  readonly api?: 'seed' | 'modern';
  /** Seed of the simulator and the generator. */
  readonly seed?: number;
  /** The generator's iterations (default 2), or a trace's repeats (default 1). */
  readonly iterations?: number;
  /** Device threads per launch of a generator. */
  readonly threads?: number;
}

/** A SweepSpec with every field set (checked). */
export type CheckedSweepSpec = Required<Omit<SweepSpec, 'trace'>> & Pick<SweepSpec, 'trace'>;

/** The defaults of a sweep (the policies the built-in layer names today). */
export const SWEEP_DEFAULTS: {
  /** The generator run when none is named. */
  readonly workload: string;
  /** 1 GiB: the footprint of the benchmark sweep. */
  readonly footprint: number;
  /** The levels of NVIDIA's and UVMSmart's oversubscription studies, 0.5 to 3. */
  readonly oversubscription: readonly number[];
  /** The five policies of issue 11's sweep: today's drivers' (UVM, KFD SVM, nouveau) and two baselines. */
  readonly policies: readonly string[];
  /** The default cost profile (docs/costs.md). */
  readonly costProfile: string;
  /** The HMM API generation. */
  readonly api: 'seed' | 'modern';
  /** Seed of the machines and the generator. */
  readonly seed: number;
  /** Main-loop iterations: two, so reuse across iterations shows. */
  readonly iterations: number;
  /** Device threads per launch. */
  readonly threads: number;
} = {
  workload: 'stream',
  footprint: 2 ** 30,
  oversubscription: [0.5, 0.75, 1, 1.1, 1.25, 1.5, 2, 3],
  policies: ['uvm', 'kfd', 'nouveau', 'page', 'block:4'],
  costProfile: 'pcie4-a100',
  api: 'seed',
  seed: 1,
  iterations: 2,
  threads: 256,
};

/** Most pages a simulated device's memory may have (the Simulator's `memoryPages` bound: 64 GiB). */
export const DEVICE_PAGES_MAX = 2 ** 24;

/** Highest oversubscription level (device memory must keep at least a page). */
export const OVERSUBSCRIPTION_MAX = 1024;

/** The spec with defaults filled in and every field checked; ArgumentError naming the bad one. */
export function checkSweepSpec(spec: SweepSpec): CheckedSweepSpec {
  // A trace replays once unless told otherwise: its own accesses are the run.
  const traceDefaults = spec.trace !== undefined ? { iterations: 1 } : {};
  const s = { ...SWEEP_DEFAULTS, ...traceDefaults, ...withoutUndefined(spec) } as CheckedSweepSpec;
  const levels = s.oversubscription;
  if (!Array.isArray(levels) || levels.length === 0)
    throw new ArgumentError('oversubscription', 'expected at least one level');
  for (const r of levels)
    if (typeof r !== 'number' || !Number.isFinite(r) || r <= 0 || r > OVERSUBSCRIPTION_MAX)
      throw new ArgumentError(
        'oversubscription',
        `expected levels in (0, ${OVERSUBSCRIPTION_MAX}], got ${describeValue(r)}`,
      );
  if (!Array.isArray(s.policies) || s.policies.length === 0)
    throw new ArgumentError('policy', 'expected at least one policy');
  for (const p of s.policies) parsePolicy(p, 'policy');
  costProfile(s.costProfile);
  if (s.api !== 'seed' && s.api !== 'modern')
    throw new ArgumentError('api', `expected 'seed' or 'modern', got ${describeValue(s.api)}`);
  if (!Number.isInteger(s.iterations) || s.iterations < 1 || s.iterations > WORKLOAD_ITERATIONS_MAX)
    throw new ArgumentError(
      'iterations',
      `expected an integer in 1..${WORKLOAD_ITERATIONS_MAX}, got ${describeValue(s.iterations)}`,
    );
  if (s.trace !== undefined && s.trace.format !== 'hmmsim' && s.trace.format !== 'nvbit')
    throw new ArgumentError(
      'trace',
      `format: expected 'hmmsim' or 'nvbit', got ${describeValue(s.trace.format)}`,
    );
  const pages = footprintPages(sweepWorkload(s)); // checks footprint, threads, seed, the name (or parses the trace)
  for (const r of levels)
    if (Math.floor(pages / r) > DEVICE_PAGES_MAX)
      throw new ArgumentError(
        'oversubscription',
        `level ${r} gives ${Math.floor(pages / r)} device pages, more than a simulated device holds (${DEVICE_PAGES_MAX})`,
      );
  return s;
}

const workloads = new WeakMap<object, Workload>();

/** The spec's workload, built once per spec object (a trace is parsed once). */
export function sweepWorkload(s: CheckedSweepSpec): Workload {
  let w = workloads.get(s);
  if (w === undefined) {
    w =
      s.trace !== undefined
        ? traceWorkload(
            s.trace.name,
            s.trace.format === 'nvbit' ? parseNvbitTrace(s.trace.text) : parseTrace(s.trace.text),
            s.iterations,
          )
        : makeWorkload(s.workload, {
            footprint: s.footprint,
            iterations: s.iterations,
            threads: s.threads,
            seed: s.seed,
          });
    workloads.set(s, w);
  }
  return w;
}

/** One configuration of a sweep. */
export interface SweepConfiguration {
  /** Its position in the sweep. */
  readonly index: number;
  /** The policy name. */
  readonly policy: string;
  /** The oversubscription level. */
  readonly oversubscription: number;
}

/** The sweep's configurations: policy-major, then oversubscription in the order given. */
export function sweepConfigurations(s: CheckedSweepSpec): SweepConfiguration[] {
  return s.policies.flatMap((policy, i) =>
    s.oversubscription.map((oversubscription, j) => ({
      index: i * s.oversubscription.length + j,
      policy,
      oversubscription,
    })),
  );
}

/** Shard `index` of `count`: the configurations whose index is index mod count. */
export function shardConfigurations(
  all: readonly SweepConfiguration[],
  shard: { index: number; count: number } | undefined,
): SweepConfiguration[] {
  if (shard === undefined) return [...all];
  const { index, count } = checkShard(shard);
  return all.filter((c) => c.index % count === index);
}

/** The pages of the workload's arrays. */
export function footprintPages(w: Workload): number {
  return w.arrays.reduce((n, a) => n + a.pages, 0);
}

/** The record's settings of a checked spec. */
export function sweepSettings(s: CheckedSweepSpec): SweepSettings {
  const w = sweepWorkload(s);
  return {
    workload: w.name,
    ...(s.trace !== undefined ? { trace: { format: s.trace.format, crc32: crc32Hex(s.trace.text) } } : {}),
    footprintBytes: footprintPages(w) * PAGE_SIZE,
    oversubscription: [...s.oversubscription],
    policies: [...s.policies],
    costProfile: s.costProfile,
    api: s.api,
    seed: s.seed,
    iterations: s.iterations,
    threads: s.threads,
    configurations: s.policies.length * s.oversubscription.length,
  };
}

function withoutUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
