/**
 * Iterative stencils: Rodinia's hotspot and srad_v2. A grid of floats is cut into page tiles
 * (32 x 32 floats, 4 KiB), s x s of them; a launch computes every output tile from its own input
 * tile and its four neighbours, threads taking tiles grid-stride in row-major order. Every iteration
 * sweeps the whole grid again: cyclic reuse, which LRU eviction thrashes on as soon as the grids do
 * not fit (the LRU-vs-cyclic pathology of the oversubscription literature).
 *
 * - hotspot: temp_in, power, temp_out; per tile read temp_in (self, N, S, W, E) and power, write
 *   temp_out; the two temperature grids swap every time step; the host reads the result at the end.
 * - srad: J and the coefficient grids c, dN, dS, dW, dE; kernel srad_cuda_1 reads J (self and
 *   neighbours) and writes the four derivatives and c; srad_cuda_2 reads c (self, S, E) and the
 *   derivatives and updates J. Before each iteration the host reads the region of interest of J (its
 *   top-left 128 x 128 floats, srad_v2's r1..r2, c1..c2) for the statistics q0sqr: a CPU phase that
 *   pulls those pages back every iteration.
 */

import type { AccessCode, CpuPhase, Workload, WorkloadParams, WorkloadPhase } from './workload.js';
import { ArrayLayout, cpuSweep, gridPhase, pagesIn, readOf, writeOf } from './workload.js';

/** Tiles per side of the square grids that `arrays` grids of the footprint hold. */
function side(p: WorkloadParams, arrays: number): number {
  return Math.max(1, Math.floor(Math.sqrt(pagesIn(p.footprint) / arrays)));
}

/** The tile and its in-grid neighbours N, S, W, E of tile i of an s x s grid starting at page g. */
function* neighbourhood(g: number, s: number, i: number): Iterable<AccessCode> {
  const r = Math.floor(i / s);
  const c = i % s;
  yield readOf(g + i);
  if (r > 0) yield readOf(g + i - s);
  if (r < s - 1) yield readOf(g + i + s);
  if (c > 0) yield readOf(g + i - 1);
  if (c < s - 1) yield readOf(g + i + 1);
}

/** Rodinia hotspot (see the file comment). */
export function hotspotWorkload(p: WorkloadParams): Workload {
  const s = side(p, 3);
  const layout = new ArrayLayout();
  const grids = [layout.add('temp_in', s * s), layout.add('temp_out', s * s)];
  const power = layout.add('power', s * s);
  return {
    name: 'hotspot',
    imitates: 'Rodinia hotspot: a 5-point stencil over temperature and power grids, swapped each step',
    arrays: layout.arrays,
    *phases(): Iterable<WorkloadPhase> {
      let [src, dst] = grids as [number, number];
      for (let it = 0; it < p.iterations; it++) {
        const [from, to] = [src, dst];
        yield gridPhase('calculate_temp', p.threads, s * s, function* (i) {
          yield* neighbourhood(from, s, i);
          yield readOf(power + i);
          yield writeOf(to + i);
        });
        [src, dst] = [dst, src];
      }
      yield cpuSweep('host writes the result file', src, s * s);
    },
  };
}

/** srad_v2's region of interest: 128 x 128 floats, 4 x 4 tiles (fewer on a smaller grid). */
const SRAD_ROI_TILES = 4;

/** Rodinia srad_v2 (see the file comment). */
export function sradWorkload(p: WorkloadParams): Workload {
  const s = side(p, 6);
  const layout = new ArrayLayout();
  const J = layout.add('J', s * s);
  const c = layout.add('c', s * s);
  const d = ['dN', 'dS', 'dW', 'dE'].map((name) => layout.add(name, s * s));
  const roi = Math.min(SRAD_ROI_TILES, s);
  const statistics: CpuPhase = {
    kind: 'cpu',
    name: 'host reads the region of interest of J',
    *accesses() {
      for (let r = 0; r < roi; r++) for (let col = 0; col < roi; col++) yield readOf(J + r * s + col);
    },
  };
  return {
    name: 'srad',
    imitates: 'Rodinia srad_v2: two stencil kernels per iteration and host statistics over a region of J',
    arrays: layout.arrays,
    *phases(): Iterable<WorkloadPhase> {
      for (let it = 0; it < p.iterations; it++) {
        yield statistics;
        yield gridPhase('srad_cuda_1', p.threads, s * s, function* (i) {
          yield* neighbourhood(J, s, i);
          for (const g of d) yield writeOf(g + i);
          yield writeOf(c + i);
        });
        yield gridPhase('srad_cuda_2', p.threads, s * s, function* (i) {
          yield readOf(c + i);
          if (i + s < s * s) yield readOf(c + i + s);
          if ((i % s) + 1 < s) yield readOf(c + i + 1);
          for (const g of d) yield readOf(g + i);
          yield writeOf(J + i);
        });
      }
      yield cpuSweep('host reads J', J, s * s);
    },
  };
}
