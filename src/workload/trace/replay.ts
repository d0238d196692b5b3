/**
 * Replaying a trace = a workload. The trace's touched pages are grouped into regions (touched pages
 * less than TRACE_REGION_GAP pages apart share one; each region becomes one array, i.e. one mapping,
 * as the traced program's allocations would be), and its records, in time order, into phases: a run
 * of device records of one launch is a kernel launch, a run of CPU records a CPU phase. In a launch,
 * the trace's threads become device threads in the order they first appear (beyond
 * DEVICE_THREADS_MAX they share, thread k running on k mod DEVICE_THREADS_MAX), each replaying its
 * own records in order; a record touches every page its byte range covers.
 */

import { PAGE_SIZE } from '../../core/addr.js';
import { ArgumentError } from '../../core/errno.js';
import { DEVICE_THREADS_MAX } from '../../device/kernel.js';
import {
  type AccessCode,
  ArrayLayout,
  readOf,
  type Workload,
  type WorkloadPhase,
  writeOf,
} from '../patterns/workload.js';
import type { TraceRecord } from './record.js';

/** Untouched pages that split a trace's pages into two regions (2 MiB: a UVM VA block). */
export const TRACE_REGION_GAP = 512;

/** The workload that replays `records` `iterations` times (see the file comment). */
export function traceWorkload(name: string, records: readonly TraceRecord[], iterations = 1): Workload {
  if (records.length === 0) throw new ArgumentError('trace', 'has no accesses');
  const sorted = [...records].sort((a, b) => a.time - b.time || a.line - b.line);
  const { layout, pageOf } = regions(sorted);
  const phases = group(sorted, pageOf);
  return {
    name,
    imitates: `the trace ${name} (${records.length} records)`,
    arrays: layout.arrays,
    *phases() {
      for (let it = 0; it < iterations; it++) yield* phases;
    },
  };
}

/** The regions of touched pages, and each touched virtual page's workload page. */
function regions(records: readonly TraceRecord[]): { layout: ArrayLayout; pageOf: (vpn: number) => number } {
  const vpns = new Set<number>();
  for (const r of records) for (const v of vpnsOf(r)) vpns.add(v);
  const sorted = [...vpns].sort((a, b) => a - b);
  const layout = new ArrayLayout();
  const starts: number[] = [];
  const firsts: number[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && (sorted[j + 1] as number) - (sorted[j] as number) <= TRACE_REGION_GAP)
      j++;
    const lo = sorted[i] as number;
    starts.push(lo);
    firsts.push(
      layout.add(
        `region${starts.length - 1}@0x${(lo * PAGE_SIZE).toString(16)}`,
        (sorted[j] as number) - lo + 1,
      ),
    );
    i = j + 1;
  }
  const pageOf = (vpn: number): number => {
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if ((starts[mid] as number) <= vpn) lo = mid;
      else hi = mid - 1;
    }
    return (firsts[lo] as number) + vpn - (starts[lo] as number);
  };
  return { layout, pageOf };
}

function* vpnsOf(r: TraceRecord): Iterable<number> {
  const last = Math.floor((r.addr + r.size - 1) / PAGE_SIZE);
  for (let v = Math.floor(r.addr / PAGE_SIZE); v <= last; v++) yield v;
}

/** Consecutive records of one launch (or of the CPU) as phases. */
function group(records: readonly TraceRecord[], pageOf: (vpn: number) => number): WorkloadPhase[] {
  const phases: WorkloadPhase[] = [];
  let i = 0;
  while (i < records.length) {
    const first = records[i] as TraceRecord;
    const cpu = first.thread === 'cpu';
    let j = i;
    while (
      j < records.length &&
      ((records[j] as TraceRecord).thread === 'cpu') === cpu &&
      (cpu || (records[j] as TraceRecord).launch === first.launch)
    )
      j++;
    const run = records.slice(i, j);
    phases.push(cpu ? cpuPhase(run, pageOf) : launchPhase(run, pageOf));
    i = j;
  }
  return phases;
}

function codes(r: TraceRecord, pageOf: (vpn: number) => number): AccessCode[] {
  return [...vpnsOf(r)].map((v) => (r.write ? writeOf(pageOf(v)) : readOf(pageOf(v))));
}

function cpuPhase(run: readonly TraceRecord[], pageOf: (vpn: number) => number): WorkloadPhase {
  const list = run.flatMap((r) => codes(r, pageOf));
  return { kind: 'cpu', name: `cpu (trace lines ${run[0]?.line}..)`, accesses: () => list };
}

function launchPhase(run: readonly TraceRecord[], pageOf: (vpn: number) => number): WorkloadPhase {
  const index = new Map<number, number>();
  for (const r of run) if (!index.has(r.thread as number)) index.set(r.thread as number, index.size);
  const threads = Math.min(index.size, DEVICE_THREADS_MAX);
  const lists: AccessCode[][] = Array.from({ length: threads }, () => []);
  for (const r of run)
    (lists[(index.get(r.thread as number) as number) % DEVICE_THREADS_MAX] as AccessCode[]).push(
      ...codes(r, pageOf),
    );
  return { kind: 'device', name: run[0]?.kernel ?? 'kernel', threads, thread: (t) => lists[t] ?? [] };
}
