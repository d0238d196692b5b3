/**
 * Simulator side of the benchmarks: one function per operation, each doing the same work as its native
 * baseline in bench/native/baseline.c, timed with process.hrtime.bigint() around the measured call only.
 * Every operation runs `warmup` untimed repetitions (JIT warm-up) and then `reps` timed ones.
 */
import {
  MADV_POPULATE_WRITE,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  PROT_READ,
  PROT_WRITE,
  Simulator,
} from '../src/index.js';
import { type Measurement, measurement } from './stats.js';

const PAGE_SIZE = 4096;

export interface SimOpOptions {
  reps: number;
  warmup: number;
}

export type SimOp = (pages: number, opts: SimOpOptions) => Measurement;

function newProcess(pages: number) {
  const sim = new Simulator({ seed: 1, ramPages: pages + 4096, devices: [] });
  return sim.createProcess();
}

type Process = ReturnType<typeof newProcess>;

function mapAnon(p: Process, pages: number): number {
  return p.mmap(pages * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
}

function mapPopulated(p: Process, pages: number): number {
  const a = mapAnon(p, pages);
  p.madvise(a, pages * PAGE_SIZE, MADV_POPULATE_WRITE);
  return a;
}

function time(f: () => void): number {
  const t0 = process.hrtime.bigint();
  f();
  return Number(process.hrtime.bigint() - t0);
}

/** Runs `rep` warmup + reps times; `rep` returns the ns it measured. */
function repeat(pages: number, opts: SimOpOptions, rep: () => number): Measurement {
  const samples: number[] = [];
  for (let i = 0; i < opts.warmup + opts.reps; i++) {
    const ns = rep();
    if (i >= opts.warmup) samples.push(ns);
  }
  return measurement(pages, opts.warmup, samples);
}

/** Fault-in of `pages` missing anonymous pages for write, on a fresh mapping each rep. */
export function populateWrite(pages: number, opts: SimOpOptions): Measurement {
  const p = newProcess(pages);
  return repeat(pages, opts, () => {
    const a = mapAnon(p, pages);
    const ns = time(() => p.madvise(a, pages * PAGE_SIZE, MADV_POPULATE_WRITE));
    p.munmap(a, pages * PAGE_SIZE);
    return ns;
  });
}

/** A page-table walk of `pages` resident pages producing one 64-bit pagemap entry per page. */
export function walk(pages: number, opts: SimOpOptions): Measurement {
  const p = newProcess(pages);
  const a = mapPopulated(p, pages);
  const out = new Uint32Array(2 * pages);
  return repeat(pages, opts, () => {
    out.fill(0);
    const ns = time(() => p.pagemap(a, pages, out));
    // Bit 63 (present) is bit 31 of the high word: the walk must have seen resident pages.
    if (out[1]! >>> 31 !== 1 || out[2 * pages - 1]! >>> 31 !== 1) {
      throw new Error('pagemap walk reported a populated page as not present');
    }
    return ns;
  });
}

/** mprotect(PROT_READ) of `pages` resident pages, on a fresh populated mapping each rep. */
export function mprotect(pages: number, opts: SimOpOptions): Measurement {
  const p = newProcess(pages);
  return repeat(pages, opts, () => {
    const a = mapPopulated(p, pages);
    const ns = time(() => p.mprotect(a, pages * PAGE_SIZE, PROT_READ));
    p.munmap(a, pages * PAGE_SIZE);
    return ns;
  });
}

/** munmap of `pages` resident pages, on a fresh populated mapping each rep. */
export function munmap(pages: number, opts: SimOpOptions): Measurement {
  const p = newProcess(pages);
  return repeat(pages, opts, () => {
    const a = mapPopulated(p, pages);
    return time(() => p.munmap(a, pages * PAGE_SIZE));
  });
}

/** Keyed by `BenchmarkSpec.sim` (bench/registry.ts). */
export const simOps: Readonly<Record<string, SimOp>> = {
  'populate-write': populateWrite,
  walk,
  mprotect,
  munmap,
};
