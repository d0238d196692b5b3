/**
 * Streaming: vector add, c[i] = a[i] + b[i] (UVMSmart's AddVectors, UVMBench's vector_add; the
 * "streaming" kernels of NVIDIA's oversubscription benchmark). Three arrays of a third of the
 * footprint each; every iteration is one launch in which thread t takes pages t, t + threads, ... of
 * the vectors (a grid-stride loop at page level) and reads a, reads b, writes c there. After the
 * last launch the host reads c back to check it. Each page is used once per launch: perfect spatial
 * locality, no reuse within a launch, so prefetching wins and, oversubscribed, LRU evicts exactly
 * what the next iteration needs first.
 */

import type { Workload, WorkloadParams, WorkloadPhase } from './workload.js';
import { ArrayLayout, cpuSweep, gridPhase, pagesIn, readOf, writeOf } from './workload.js';

/** The vector-add workload (see the file comment). */
export function streamWorkload(p: WorkloadParams): Workload {
  const layout = new ArrayLayout();
  const n = Math.max(1, Math.floor(pagesIn(p.footprint) / 3));
  const a = layout.add('a', n);
  const b = layout.add('b', n);
  const c = layout.add('c', n);
  return {
    name: 'stream',
    imitates: 'vector add (UVMSmart AddVectors, UVMBench vector_add): a grid-stride c = a + b',
    arrays: layout.arrays,
    *phases(): Iterable<WorkloadPhase> {
      for (let it = 0; it < p.iterations; it++)
        yield gridPhase('vector_add', p.threads, n, (i) => [readOf(a + i), readOf(b + i), writeOf(c + i)]);
      yield cpuSweep('host checks c', c, n);
    },
  };
}
