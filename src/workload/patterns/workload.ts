/**
 * A workload for policy sweeps: named arrays of shared memory (each its own mapping, as each
 * `cudaMallocManaged` is) and the phases a benchmark runs over them, device kernel launches and CPU
 * phases, as page-level access streams. The sweep (src/sweep) maps the arrays, launches one device
 * kernel per device phase (each thread replaying its stream through the device MMU, so every miss
 * is a replayable fault the driver services through HMM) and touches the CPU phases' pages from the
 * process (a CPU access to a device page faults it back).
 *
 * Why pages: page contents are off in a sweep and the cost model does not charge TLB hits, so what a
 * warp does inside a page it already has mapped changes nothing a policy sees. A stream therefore
 * holds one access per page visit: the first touch of a page by a thread's run of accesses, in the
 * thread's program order. A benchmark's data-dependent control flow (bfs's frontier) is computed on
 * the host from the same seeded inputs, since the kernel cannot read values that are not kept.
 */

import { PAGE_SIZE } from '../../core/addr.js';
import { ArgumentError, describeValue } from '../../core/errno.js';
import { DEVICE_THREADS_MAX } from '../../device/kernel.js';

/**
 * One page access: `page * 2 + (write ? 1 : 0)`, where `page` indexes the workload's pages (its
 * arrays laid end to end in order). A number, not an object, so that streams of millions stay cheap.
 */
export type AccessCode = number;

/** The access code of a read of `page`. */
export function readOf(page: number): AccessCode {
  return page * 2;
}

/** The access code of a write of `page`. */
export function writeOf(page: number): AccessCode {
  return page * 2 + 1;
}

/** The page an access code touches. */
export function accessPage(code: AccessCode): number {
  return Math.floor(code / 2);
}

/** Whether an access code is a write. */
export function accessIsWrite(code: AccessCode): boolean {
  return code % 2 === 1;
}

/** One array of shared memory: its own anonymous mapping of `pages` pages. */
export interface WorkloadArray {
  /** The benchmark's name for it (`a`, `temp_in`, `edges`). */
  readonly name: string;
  /** Its size in pages (at least 1). */
  readonly pages: number;
}

/** A device kernel launch: `threads` device threads, thread t replaying `thread(t)`. */
export interface DevicePhase {
  /** A device phase. */
  readonly kind: 'device';
  /** The benchmark's kernel name. */
  readonly name: string;
  /** Device threads of the launch (1..DEVICE_THREADS_MAX). */
  readonly threads: number;
  /** Thread t's accesses in program order. */
  thread(t: number): Iterable<AccessCode>;
}

/** Host code touching the shared arrays (checking results, reducing, setting a flag). */
export interface CpuPhase {
  /** A CPU phase. */
  readonly kind: 'cpu';
  /** What the host does, in the benchmark's words. */
  readonly name: string;
  /** The CPU's accesses in program order. */
  accesses(): Iterable<AccessCode>;
}

/** One step of a workload: a kernel launch or a CPU phase. */
export type WorkloadPhase = DevicePhase | CpuPhase;

/** A workload: its arrays and, run after run, the same phases (see the file comment). */
export interface Workload {
  /** The generator's name (`stream`, `hotspot`) or the trace's. */
  readonly name: string;
  /** The benchmark it imitates and how, one sentence. */
  readonly imitates: string;
  /** Its arrays, in page order. */
  readonly arrays: readonly WorkloadArray[];
  /** Its phases in order; each call starts over and yields the same phases. */
  phases(): Iterable<WorkloadPhase>;
}

/** What every generator takes. */
export interface WorkloadParams {
  /** Bytes of shared memory the arrays add up to (rounded down to whole pages per array). */
  readonly footprint: number;
  /** Times the benchmark's main loop runs (time steps, epochs, repeats). */
  readonly iterations: number;
  /** Device threads per launch (each stands for a warp group working on its own pages). */
  readonly threads: number;
  /** Seed of the inputs a generator draws (random pages, a graph). */
  readonly seed: number;
}

/** Smallest footprint a generator takes: 64 pages, so every array has a page of its own. */
export const WORKLOAD_FOOTPRINT_MIN = 64 * PAGE_SIZE;
/** Largest footprint: 64 GiB (a limit on host memory for the page tables of the run). */
export const WORKLOAD_FOOTPRINT_MAX = 64 * 2 ** 30;
/** Most iterations of a generator's main loop. */
export const WORKLOAD_ITERATIONS_MAX = 10_000;

/** Checks a generator's parameters; an ArgumentError naming the first bad one. */
export function checkWorkloadParams(p: WorkloadParams): WorkloadParams {
  checkRange('footprint', p.footprint, WORKLOAD_FOOTPRINT_MIN, WORKLOAD_FOOTPRINT_MAX);
  checkRange('iterations', p.iterations, 1, WORKLOAD_ITERATIONS_MAX);
  checkRange('threads', p.threads, 1, DEVICE_THREADS_MAX);
  checkRange('seed', p.seed, 0, 2 ** 32 - 1);
  return p;
}

function checkRange(name: string, v: unknown, lo: number, hi: number): void {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi)
    throw new ArgumentError(name, `expected an integer in ${lo}..${hi}, got ${describeValue(v)}`);
}

/** The workload's pages laid end to end: the first page of each array, by name. */
export class ArrayLayout {
  /** The arrays added, in page order. */
  readonly arrays: WorkloadArray[] = [];
  /** Each array's first page, by name. */
  readonly first: Record<string, number> = {};
  private next = 0;

  /** Adds an array of `pages` pages (at least one) and returns its first page. */
  add(name: string, pages: number): number {
    const n = Math.max(1, Math.floor(pages));
    this.arrays.push({ name, pages: n });
    this.first[name] = this.next;
    this.next += n;
    return this.first[name] as number;
  }

  /** Pages of all arrays. */
  get pages(): number {
    return this.next;
  }
}

/** Whole pages in `bytes`. */
export function pagesIn(bytes: number): number {
  return Math.floor(bytes / PAGE_SIZE);
}

/** The indices t, t + threads, ... below n: a grid-stride loop's share for thread t. */
export function* gridStride(t: number, threads: number, n: number): Iterable<number> {
  for (let i = t; i < n; i += threads) yield i;
}

/** A device phase whose thread t runs `body(i)` for each i of its grid-stride share of 0..n-1. */
export function gridPhase(
  name: string,
  threads: number,
  n: number,
  body: (i: number) => Iterable<AccessCode>,
): DevicePhase {
  return {
    kind: 'device',
    name,
    threads,
    *thread(t) {
      for (let i = t; i < n; i += threads) yield* body(i);
    },
  };
}

/** A CPU phase reading (or writing) every page of [first, first + pages). */
export function cpuSweep(name: string, first: number, pages: number, write = false): CpuPhase {
  return {
    kind: 'cpu',
    name,
    *accesses() {
      for (let p = first; p < first + pages; p++) yield write ? writeOf(p) : readOf(p);
    },
  };
}
